"""Text and Rich markup of a run, shared by the app and the commands: one line per event
(events.py), the attempts table and detail (attempts.py), and the session's output.log
(output_log.py). Views read the store's records; they never change a run."""
