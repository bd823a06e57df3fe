/* RK4 on the driven oscillator, written in C: the machine's limit for dynsys's time loop.
 *
 * The oscillator (dynsys/systems/oscillator.py), for each member:
 *
 *     ds/dt = (vel, x/m - (k/m) pos - (c/m) vel),   x(t) = A cos(omega t)
 *
 * stepped by the classic RK4 with the arithmetic of dynsys's numpy loop
 * (dynsys/steppers.py, ExplicitRungeKutta.step), operation for operation:
 *
 *     k1 = g(s, x(t0 + (n + 0) h))
 *     k2 = g(s + (h * 0.5) * k1, x(t0 + (n + 0.5) h))
 *     k3 = g(s + (h * 0.5) * k2, x(t0 + (n + 0.5) h))
 *     k4 = g(s + (h * 1.0) * k3, x(t0 + (n + 1) h))
 *     s(n+1) = s + (h * 1/6) * k1 + (h * 1/3) * k2 + (h * 1/3) * k3 + (h * 1/6) * k4
 *
 * summed left to right, with g_vel = (x/m - (k/m) * pos) - (c/m) * vel.  The drive sample at
 * c = 1 of step n is the sample at c = 0 of step n + 1 (the same number: (n + 1.0) h).
 * Compiled with -ffp-contract=off (no fused multiply-add), every operation rounds as numpy's
 * does, and cos is the C library's, as numpy's is on x86-64 Linux: the final states equal
 * dynsys's bit for bit.
 *
 * States: s[2 i] = pos, s[2 i + 1] = vel of member i, stepped in place from step 0 to `steps`.
 * Members are taken in blocks of BLOCK; a block runs all its steps (for each step: for each
 * member) with its states in two small arrays, blocks spread over `threads` OpenMP threads.
 */

#include <math.h>
#include <stdlib.h>

#define BLOCK 256

static long min_long(long a, long b) { return a < b ? a : b; }

/* One RK4 step of `len` members whose drive over m is x0m, xhm, x1m at c = 0, 1/2, 1. */
#define RK4_MEMBER(i, X0M, XHM, X1M, KM, CM)                                                 \
    do {                                                                                       \
        const double p = pos[i], v = vel[i];                                                   \
        const double k1p = v;                                                                  \
        const double k1v = ((X0M) - (KM) * p) - (CM) * v;                                      \
        const double k2p = v + ha * k1v;                                                       \
        const double k2v = ((XHM) - (KM) * (p + ha * k1p)) - (CM) * k2p;                       \
        const double k3p = v + ha * k2v;                                                       \
        const double k3v = ((XHM) - (KM) * (p + ha * k2p)) - (CM) * k3p;                       \
        const double k4p = v + h1 * k3v;                                                       \
        const double k4v = ((X1M) - (KM) * (p + h1 * k3p)) - (CM) * k4p;                       \
        pos[i] = p + b1 * k1p + b2 * k2p + b2 * k3p + b1 * k4p;                                \
        vel[i] = v + b1 * k1v + b2 * k2v + b2 * k3v + b1 * k4v;                                \
    } while (0)

/* All members share m, k, c, A, omega: the drive over m is one number per step node, computed
 * once for the whole run (a table of steps + 1 samples at c = 0 and steps at c = 1/2). */
int rk4_shared(double *s, long members, long steps, double t0, double h, double m, double k,
               double c, double A, double omega, int threads) {
    double *xm = malloc(sizeof(double) * (size_t)(2 * steps + 1));
    if (xm == NULL) return 1;
    double *xh = xm + steps + 1;
    for (long n = 0; n <= steps; n++) xm[n] = (A * cos(omega * (t0 + ((double)n + 0.0) * h))) / m;
    for (long n = 0; n < steps; n++) xh[n] = (A * cos(omega * (t0 + ((double)n + 0.5) * h))) / m;
    const double km = k / m, cm = c / m;
    const double ha = h * 0.5, h1 = h * 1.0, b1 = h * (1.0 / 6.0), b2 = h * (1.0 / 3.0);
    const long blocks = (members + BLOCK - 1) / BLOCK;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long blk = 0; blk < blocks; blk++) {
        double pos[BLOCK], vel[BLOCK];
        const long lo = blk * BLOCK, len = min_long(BLOCK, members - lo);
        for (long i = 0; i < len; i++) {
            pos[i] = s[2 * (lo + i)];
            vel[i] = s[2 * (lo + i) + 1];
        }
        for (long n = 0; n < steps; n++) {
            const double x0m = xm[n], xhm = xh[n], x1m = xm[n + 1];
#pragma omp simd
            for (long i = 0; i < len; i++) RK4_MEMBER(i, x0m, xhm, x1m, km, cm);
        }
        for (long i = 0; i < len; i++) {
            s[2 * (lo + i)] = pos[i];
            s[2 * (lo + i) + 1] = vel[i];
        }
    }
    free(xm);
    return 0;
}

/* Each member its own m, k, c, A, omega (arrays of `members`): two cosines per member and step
 * (c = 1/2 and c = 1; the c = 1 sample is kept for the next step's c = 0), taken in a loop of
 * their own so that the arithmetic loop stays vectorised. */
int rk4_per_member(double *s, long members, long steps, double t0, double h, const double *m,
                   const double *k, const double *c, const double *A, const double *omega,
                   int threads) {
    const double ha = h * 0.5, h1 = h * 1.0, b1 = h * (1.0 / 6.0), b2 = h * (1.0 / 3.0);
    const long blocks = (members + BLOCK - 1) / BLOCK;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long blk = 0; blk < blocks; blk++) {
        double pos[BLOCK], vel[BLOCK], km[BLOCK], cm[BLOCK];
        double x0m[BLOCK], xhm[BLOCK], x1m[BLOCK];
        const long lo = blk * BLOCK, len = min_long(BLOCK, members - lo);
        const double *mb = m + lo, *ab = A + lo, *ob = omega + lo;
        for (long i = 0; i < len; i++) {
            pos[i] = s[2 * (lo + i)];
            vel[i] = s[2 * (lo + i) + 1];
            km[i] = k[lo + i] / mb[i];
            cm[i] = c[lo + i] / mb[i];
            x0m[i] = (ab[i] * cos(ob[i] * (t0 + (0.0 + 0.0) * h))) / mb[i];
        }
        for (long n = 0; n < steps; n++) {
            const double th = t0 + ((double)n + 0.5) * h, t1 = t0 + ((double)n + 1.0) * h;
            for (long i = 0; i < len; i++) {
                xhm[i] = (ab[i] * cos(ob[i] * th)) / mb[i];
                x1m[i] = (ab[i] * cos(ob[i] * t1)) / mb[i];
            }
#pragma omp simd
            for (long i = 0; i < len; i++) {
                RK4_MEMBER(i, x0m[i], xhm[i], x1m[i], km[i], cm[i]);
                x0m[i] = x1m[i];
            }
        }
        for (long i = 0; i < len; i++) {
            s[2 * (lo + i)] = pos[i];
            s[2 * (lo + i) + 1] = vel[i];
        }
    }
    return 0;
}
