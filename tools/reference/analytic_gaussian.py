#!/usr/bin/env python3
"""Reference values for the analytic Gaussian mechanism (Balle & Wang, ICML 2018).

Independent of the TypeScript code in src/site/privacy/differential-privacy.ts: it uses only
Python's standard library (math.erfc, no scipy) and computes

  * epsilon(sensitivity, sigma, delta): the smallest eps >= 0 with
        Phi(D/(2s) - eps*s/D) - exp(eps) * Phi(-D/(2s) - eps*s/D) <= delta
    by plain bisection (Theorem 8 of the paper);
  * sigma(sensitivity, epsilon, delta): by the paper's own calibration algorithm
    (Algorithm 1, the `calibrateAnalyticGaussianMechanism` of the authors' released code,
    with scipy's erf replaced by math.erfc), a different route from the TypeScript inverse.

Run:  python3 tools/reference/analytic_gaussian.py
The numbers it prints are hard-coded in tests/site/privacy/differential-privacy.test.ts.
"""

from math import erfc, exp, sqrt, log


def Phi(t):
    return 0.5 * erfc(-t / sqrt(2.0))


def delta_of_eps(eps, sens, sigma):
    a = sens / (2.0 * sigma)
    b = eps * sigma / sens
    return Phi(a - b) - exp(eps) * Phi(-a - b)


def epsilon_bisect(sens, sigma, delta):
    if delta_of_eps(0.0, sens, sigma) <= delta:
        return 0.0
    lo, hi = 0.0, 1.0
    while delta_of_eps(hi, sens, sigma) > delta:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if delta_of_eps(mid, sens, sigma) > delta:
            lo = mid
        else:
            hi = mid
    return hi


def calibrate_sigma(epsilon, delta, GS, tol=1.0e-14):
    """Balle & Wang's Algorithm 1, transcribed from their released code."""

    def caseA(epsilon, s):
        return Phi(sqrt(epsilon * s)) - exp(epsilon) * Phi(-sqrt(epsilon * (s + 2.0)))

    def caseB(epsilon, s):
        return Phi(-sqrt(epsilon * s)) - exp(epsilon) * Phi(-sqrt(epsilon * (s + 2.0)))

    def doubling_trick(predicate_stop, s_inf, s_sup):
        while not predicate_stop(s_sup):
            s_inf = s_sup
            s_sup = 2.0 * s_inf
        return s_inf, s_sup

    def binary_search(predicate_stop, predicate_left, s_inf, s_sup):
        s_mid = s_inf + (s_sup - s_inf) / 2.0
        for _ in range(2000):
            if predicate_stop(s_mid):
                break
            if predicate_left(s_mid):
                s_sup = s_mid
            else:
                s_inf = s_mid
            s_mid = s_inf + (s_sup - s_inf) / 2.0
        return s_mid

    delta_thr = caseA(epsilon, 0.0)
    if delta == delta_thr:
        alpha = 1.0
    else:
        if delta > delta_thr:
            predicate_stop_DT = lambda s: caseA(epsilon, s) >= delta
            function_s_to_delta = lambda s: caseA(epsilon, s)
            predicate_left_BS = lambda s: function_s_to_delta(s) > delta
            function_s_to_alpha = lambda s: sqrt(1.0 + s / 2.0) - sqrt(s / 2.0)
        else:
            predicate_stop_DT = lambda s: caseB(epsilon, s) <= delta
            function_s_to_delta = lambda s: caseB(epsilon, s)
            predicate_left_BS = lambda s: function_s_to_delta(s) < delta
            function_s_to_alpha = lambda s: sqrt(1.0 + s / 2.0) + sqrt(s / 2.0)
        predicate_stop_BS = lambda s: abs(function_s_to_delta(s) - delta) <= tol
        s_inf, s_sup = doubling_trick(predicate_stop_DT, 0.0, 1.0)
        s_final = binary_search(predicate_stop_BS, predicate_left_BS, s_inf, s_sup)
        alpha = function_s_to_alpha(s_final)
    return alpha * GS / sqrt(2.0 * epsilon)


def classical_epsilon(sens, sigma, delta):
    return sens * sqrt(2.0 * log(1.25 / delta)) / sigma


if __name__ == "__main__":
    print("# epsilon(sensitivity, sigma, delta)  [bisection on Theorem 8]")
    for sens, sigma, delta in [
        (1.0, 1.0, 1e-5),
        (1.0, 0.5, 1e-5),
        (1.0, 2.0, 1e-5),
        (1.0, 5.0, 1e-6),
        (0.1, 0.37, 1e-5),
        (2.0, 3.0, 1e-3),
        (1.0, 10.0, 1e-5),
    ]:
        print(f"[{sens!r}, {sigma!r}, {delta!r}, {epsilon_bisect(sens, sigma, delta)!r}],")
    print("# sigma(sensitivity, epsilon, delta)  [Balle & Wang Algorithm 1]")
    for sens, eps, delta in [
        (1.0, 1.0, 1e-5),
        (1.0, 0.5, 1e-5),
        (1.0, 4.0, 1e-5),
        (1.0, 0.1, 1e-6),
        (0.25, 2.0, 1e-3),
    ]:
        print(f"[{sens!r}, {eps!r}, {delta!r}, {calibrate_sigma(eps, delta, sens)!r}],")
    print("# classical epsilon for (1, 5, 1e-5):", classical_epsilon(1.0, 5.0, 1e-5))
