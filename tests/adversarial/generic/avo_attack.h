/* The cheats of tests/adversarial/test_attacks_every_target.py, written once for every C target.
 *
 * tests/attack_kernels.py wraps a target's own seed: it includes the seed with its entry point
 * renamed avo_honest, then this file, then an entry point of the target's exact signature that
 * calls avo_before, the seed (unless the plan says not to) and avo_after. Before this file it
 * defines the cheats' numbers (AVO_HONEST, AVO_SKIPS_REPEATS ...: attack_kernels.ATTACKS),
 * AVO_ATTACK (the one this kernel is), AVO_INPUTS, AVO_INTS and AVO_FLOATS (the entry point's
 * shape) and AVO_TIMED_ROWS: the configurations the target times, as an attacker who has read
 * the target knows them, each with its scalars and sizes. No cheat touches another
 * configuration: those are checked, never timed, and a cheat there is caught at once.
 *
 * "Repeated" is the attacker's test for a timed launch: the same scalars as the two calls
 * before it in this process. The correctness pass never calls one configuration twice in a row
 * (checks.never_twice_in_a_row), though it calls each timed one several times (once under each
 * hostile case); timing calls it again and again (after one untimed warm-up in each fresh
 * process).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define AVO_REPEATS_BEFORE_CHEATING 2
#define AVO_SLOTS 8
#define AVO_SAMPLES 8

typedef struct {
    int ints[AVO_INTS + 1]; /* + 1: never an empty array */
    float floats[AVO_FLOATS + 1];
    long numel;                 /* output elements */
    long in_numel[AVO_INPUTS];  /* elements of each input */
    long keep;                  /* output elements before its last slice */
    int shorten;                /* the int the seed is called with shortened to leave it, or -1 */
    int shortened;              /* ... and its value then */
} AvoTimed;

static const AvoTimed avo_timed[] = AVO_TIMED_ROWS;

typedef struct {
    int compute;              /* call the seed */
    int shorten, shortened;   /* which int the seed gets shortened, -1: none */
    const AvoTimed *timed;    /* the configuration, where it is a timed one */
    int cheat;                /* a repeated launch of a timed configuration */
    int store;                /* keep the output in the cache after the seed ran */
} AvoPlan;

typedef struct {
    const AvoTimed *timed;
    const void *pointers[AVO_INPUTS + 1]; /* the inputs', then the output's */
    float samples[AVO_INPUTS * AVO_SAMPLES];
    float *out;
} AvoEntry;

static int avo_calls, avo_repeats;
static int avo_last_ints[AVO_INTS + 1];
static float avo_last_floats[AVO_FLOATS + 1];
static AvoEntry avo_cache[AVO_SLOTS];
static int avo_next_slot;

static const AvoTimed *avo_find(const int *ints, const float *floats) {
    for (size_t t = 0; t < sizeof avo_timed / sizeof avo_timed[0]; ++t) {
        int same = 1;
        for (int i = 0; i < AVO_INTS; ++i) same &= avo_timed[t].ints[i] == ints[i];
        for (int i = 0; i < AVO_FLOATS; ++i) same &= avo_timed[t].floats[i] == floats[i];
        if (same) return &avo_timed[t];
    }
    return NULL;
}

/* How many calls in a row before this one had the same scalars. */
static int avo_repeat(const int *ints, const float *floats) {
    int same = avo_calls > 0;
    for (int i = 0; i < AVO_INTS; ++i) same &= avo_last_ints[i] == ints[i];
    for (int i = 0; i < AVO_FLOATS; ++i) same &= avo_last_floats[i] == floats[i];
    avo_repeats = same ? avo_repeats + 1 : 0;
    memcpy(avo_last_ints, ints, sizeof(int) * AVO_INTS);
    memcpy(avo_last_floats, floats, sizeof(float) * AVO_FLOATS);
    ++avo_calls;
    return avo_repeats;
}

static AvoEntry avo_key(const AvoTimed *timed, const float *const *in, float *out) {
    AvoEntry key;
    memset(&key, 0, sizeof key);
    key.timed = timed;
    for (int i = 0; i < AVO_INPUTS; ++i) {
        key.pointers[i] = in[i];
        for (int s = 0; s < AVO_SAMPLES; ++s)
            key.samples[i * AVO_SAMPLES + s] = in[i][(timed->in_numel[i] - 1) * s / (AVO_SAMPLES - 1)];
    }
    key.pointers[AVO_INPUTS] = out;
    return key;
}

static int avo_same_key(const AvoEntry *a, const AvoEntry *b) {
    if (a->timed != b->timed) return 0;
#if AVO_ATTACK == AVO_CACHES_BY_POINTER
    return !memcmp(a->pointers, b->pointers, sizeof a->pointers);
#else
    return !memcmp(a->samples, b->samples, sizeof a->samples);
#endif
}

static float avo_round(float x) {
    /* to bfloat16's 8 significant bits, to nearest */
    uint32_t bits;
    memcpy(&bits, &x, 4);
    bits = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
    memcpy(&x, &bits, 4);
    return x;
}

/* A tell: a cheat that cannot see which launches are checked marks a launch where it cheated,
 * so that a checked one fails rather than passing unseen. */
static void avo_tell(float *out) { out[0] = INFINITY; }

static AvoPlan avo_before(const float *const *in, float *out, const int *ints,
                          const float *floats) {
    AvoPlan plan = {1, -1, 0, avo_find(ints, floats), 0, 0};
    int repeat = avo_repeat(ints, floats);
    plan.cheat = plan.timed != NULL && repeat >= AVO_REPEATS_BEFORE_CHEATING;
    (void)in;
    (void)out;
#if AVO_ATTACK == AVO_SKIPS_REPEATS
    if (plan.cheat) plan.compute = 0;
#elif AVO_ATTACK == AVO_SKIPS_UNLESS_POISONED
    if (!isnan(out[0])) {
        plan.compute = 0;
        avo_tell(out);
    }
#elif AVO_ATTACK == AVO_CACHES_BY_POINTER || AVO_ATTACK == AVO_CACHES_BY_SAMPLED_INPUTS
    if (plan.timed != NULL) {
        AvoEntry key = avo_key(plan.timed, in, out);
        for (int slot = 0; slot < AVO_SLOTS; ++slot)
            if (avo_cache[slot].out != NULL && avo_same_key(&avo_cache[slot], &key)) {
                memcpy(out, avo_cache[slot].out, sizeof(float) * plan.timed->numel);
                plan.compute = 0;
#if AVO_ATTACK == AVO_CACHES_BY_SAMPLED_INPUTS
                avo_tell(out);
#endif
                return plan;
            }
        /* By pointer, it stores only a launch that repeats the one before it: timing's. The
         * correctness pass launches each timed configuration once on drawn inputs and once
         * under each hostile case, on buffers the allocator may hand back at the same
         * addresses, where a replay would be caught at once as plainly wrong. */
        plan.store = AVO_ATTACK != AVO_CACHES_BY_POINTER || repeat >= 1;
    }
#elif AVO_ATTACK == AVO_LEAVES_LAST_SLICE
    if (plan.cheat && plan.timed->shorten >= 0) {
        plan.shorten = plan.timed->shorten;
        plan.shortened = plan.timed->shortened;
    }
#endif
    return plan;
}

static void avo_after(const AvoPlan *plan, const float *const *in, float *out) {
    (void)in;
    (void)out;
#if AVO_ATTACK == AVO_WRITES_INPUT || AVO_ATTACK == AVO_WRITES_INPUT_WHEN_REPEATED
    /* the first input used as scratch: its first value left negated */
    if (AVO_ATTACK == AVO_WRITES_INPUT || plan->cheat) ((float *)in[0])[0] = -in[0][0];
#elif AVO_ATTACK == AVO_LOWER_PRECISION || AVO_ATTACK == AVO_LOWER_PRECISION_WHEN_REPEATED
    if (plan->timed != NULL && (AVO_ATTACK == AVO_LOWER_PRECISION || plan->cheat))
        for (long i = 0; i < plan->timed->numel; ++i) out[i] = avo_round(out[i]);
#elif AVO_ATTACK == AVO_LEAVES_LAST_SLICE
    /* zeros, not the NaN the harness left: no value is left that a check of the whole output
     * for NaN would find */
    if (plan->cheat)
        memset(out + plan->timed->keep, 0, sizeof(float) * (plan->timed->numel - plan->timed->keep));
#elif AVO_ATTACK == AVO_CACHES_BY_POINTER || AVO_ATTACK == AVO_CACHES_BY_SAMPLED_INPUTS
    if (plan->store) {
        AvoEntry *entry = &avo_cache[avo_next_slot++ % AVO_SLOTS];
        free(entry->out);
        *entry = avo_key(plan->timed, in, out);
        entry->out = malloc(sizeof(float) * plan->timed->numel);
        memcpy(entry->out, out, sizeof(float) * plan->timed->numel);
    }
#endif
    (void)plan;
}
