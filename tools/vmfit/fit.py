#!/usr/bin/env python3
"""fit.py - derive the polynomial coefficients of netjit's exp, erf and
normcdf (erfc is built on normcdf's).

Chebyshev least-squares fits (mpmath.chebyfit, 40 digits) in a variable
centred on each interval, so the monomial coefficients stay small and Horner's
rule in float does not cancel. Coefficients print highest degree first and are
pasted into lib/CodeGen/VectorMath{Elementary,Special}.cpp.
Run: python3 tools/vmfit/fit.py
"""
import struct

import mpmath as mp

mp.mp.dps = 40


def fit(name, f, lo, hi, degree, unscaled=False):
    """Fits on s = (v - mid) / half; unscaled prints the same polynomial in
    t = v - mid instead (coefficient j divided by half^j), so that the code
    subtracts mid (exactly, by Sterbenz) and divides by nothing."""
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    coeffs, err = mp.chebyfit(lambda s: f(mid + s * half), [-1, 1], degree + 1, error=True)
    rel = max(abs(mp.polyval(coeffs, s) / f(mid + s * half) - 1)
              for s in mp.linspace(-1, 1, 401))
    if unscaled:
        coeffs = [c / half ** (degree - j) for j, c in enumerate(coeffs)]
    var = "t = v - " if unscaled else "s = (v - "
    tail = "" if unscaled else f") / {float(half)!r}"
    print(f"// {name}: {var}{float(mid)!r}{tail}, degree {degree}, "
          f"max abs error {mp.nstr(err, 3)}, relative {mp.nstr(rel, 3)}")
    print("{" + ", ".join(f"{float(c)!r}" for c in coeffs) + "}")


def erf_over_x(z):  # erf(x) / x as a function of z = x^2
    return mp.erf(mp.sqrt(z)) / mp.sqrt(z) if z else 2 / mp.sqrt(mp.pi)


fit("erf(x) = x * P(v), v = x^2, |x| <= 1", erf_over_x, 0, 1, 7)


def exp_q(r):  # (e^r - 1 - r) / r^2: exp's e^r - 1 = r + r^2 Q(r)
    return (mp.exp(r) - 1 - r) / r**2 if r else mp.mpf(0.5)


h = mp.log(2) / 2
coeffs = mp.chebyfit(exp_q, [-h, h], 6)
print("// exp: Q(r), |r| <= ln2/2, degree 5")
print("{" + ", ".join(f"{float(c)!r}" for c in coeffs) + "}")


def normcdf_m(t):  # Phi(-t) e^(t^2/2): normcdf(-t) = e^(-t^2/2) M(t)
    return mp.ncdf(-t) * mp.exp(t * t / 2)


# M as a polynomial in s = (v - mid) / half, v = 4 / (4 + t), t in [0, 14.5]
# (past 14.5, Phi(-t) is far below float's range). Its terms alternate near
# t = 14.5, so the kernels evaluate it in double.
vlo = 4 / (4 + mp.mpf("14.5"))
mid, half = (vlo + 1) / 2, (1 - vlo) / 2
coeffs = mp.chebyfit(lambda s: normcdf_m(4 / (mid + s * half) - 4), [-1, 1], 12)
print(f"// normcdf M(s), s = (v - {float(mid)!r}) / {float(half)!r}, degree 11")
print("{" + ", ".join(f"{float(c)!r}" for c in coeffs) + "}")

# M in float, piecewise: 16 intervals of t in [0, 15) chosen by the exponent
# and top two mantissa bits of t + 1 (widths 1/4 near 0, 2 near 15, where M
# is smooth), each a degree-6 fit in s = t - centre; M = m0 + s P(s) with m0
# as a float pair so that its rounding does not reach the result. Stretched
# by 1e-5 so that t + 1 rounding up into the next interval stays fitted.
def f32(x):  # x rounded to float
    return struct.unpack("f", struct.pack("f", float(x)))[0]


edges = [0, .25, .5, .75, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 9, 11, 13, 15]
rows, worst = [], 0
for a, b in zip(edges, edges[1:]):
    c, h = mp.mpf(a + b) / 2, mp.mpf(b - a) / 2 * (1 + 1e-5)
    co = mp.chebyfit(lambda s: normcdf_m(c + s), [-h, h], 7)
    worst = max(worst, max(abs(mp.polyval(co, s) / normcdf_m(c + s) - 1)
                           for s in mp.linspace(-h, h, 101)))
    hi = f32(co[-1])
    rows.append([f32(c), hi, f32(co[-1] - hi)] + [f32(x) for x in co[:-1]])
print(f"// normcdf M piecewise: centre, m0 hi, m0 lo, P highest degree first; "
      f"relative error {mp.nstr(worst, 3)}")
for name, j in [("Centre", 0), ("M0Hi", 1), ("M0Lo", 2)] + \
        [(f"P{k}", 3 + k) for k in range(6)]:
    print(f"  /* {name} */ {{" + ", ".join(f"{r[j]:.9g}" for r in rows) + "},")
