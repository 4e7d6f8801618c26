#!/usr/bin/env python3
"""fit.py - derive the polynomial coefficients of netjit's erf/erfc.

Chebyshev least-squares fits (mpmath.chebyfit, 40 digits) in a variable
centred on each interval, so the monomial coefficients stay small and Horner's
rule in float does not cancel. Coefficients print highest degree first and are
pasted into lib/CodeGen/VectorMath.cpp. Run: python3 tools/vmfit/fit.py
"""
import mpmath as mp

mp.mp.dps = 40


def fit(name, f, lo, hi, degree):
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    coeffs, err = mp.chebyfit(lambda s: f(mid + s * half), [-1, 1], degree + 1, error=True)
    print(f"// {name}: s = (v - {float(mid)!r}) / {float(half)!r}, degree {degree}, "
          f"max abs error {mp.nstr(err, 3)}")
    print("{" + ", ".join(f"{float(c)!r}f" for c in coeffs) + "}")


def erf_over_x(z):  # erf(x) / x as a function of z = x^2
    return mp.erf(mp.sqrt(z)) / mp.sqrt(z) if z else 2 / mp.sqrt(mp.pi)


def scaled_erfc(t):  # erfc(x) * exp(x^2) as a function of t = 1/x
    return mp.erfc(1 / t) * mp.exp(1 / t**2)


fit("erf(x) = x * P(v), v = x^2, |x| <= 1", erf_over_x, 0, 1, 7)
# erfc(x) = exp(-x^2) * Q(1/x) on three overlapping pieces of v = 1/x whose
# centres and half-widths are exact in float (an inexact centre shifts the
# argument by an ulp and costs one in the result).
fit("erfc Q(v), v = 1/x, x in [0.5, 1.333]", scaled_erfc, mp.mpf(0.75), mp.mpf(2), 10)
fit("erfc Q(v), v = 1/x, x in [1.143, 2.667]", scaled_erfc, mp.mpf(0.375), mp.mpf(0.875), 10)
fit("erfc Q(v), v = 1/x, x in [2.462, 10.67]", scaled_erfc, mp.mpf(0.09375), mp.mpf(0.40625), 10)
