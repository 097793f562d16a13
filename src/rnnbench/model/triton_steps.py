"""The step kernels of impl ``triton`` (:mod:`rnnbench.model.kernels`), one per step and pass.

Imported only when the impl runs: Triton decides at definition time whether a kernel is
compiled for the GPU or interpreted on the CPU (``TRITON_INTERPRET=1``). Each kernel covers
the ``B*H`` elements of one step; ``UPCAST`` computes half precision in float32. Only
Triton's builtins are used (not its ``@jit`` library, e.g. ``tl.sigmoid``), so the kernels also
run interpreted when Triton itself was imported before ``TRITON_INTERPRET`` was set.
"""

import triton
import triton.language as tl


@triton.jit
def _sigmoid(x):
    return 1 / (1 + tl.exp(-x))


@triton.jit
def _tanh(x):
    return 2 * _sigmoid(2 * x) - 1


@triton.jit
def _load(at, inside, UPCAST: tl.constexpr):
    x = tl.load(at, mask=inside, other=0.0)
    if UPCAST:  # half precision in memory, float32 in registers
        x = x.to(tl.float32)
    return x


@triton.jit
def _store(at, x, inside):
    tl.store(at, x.to(at.dtype.element_ty), mask=inside)


@triton.jit
def _lanes(hidden, total, BLOCK: tl.constexpr):
    """This program's elements ``k`` of the step's ``(B, H)``, which are real, and their
    batch row ``b`` and hidden unit ``j``."""
    k = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    return k, k < total, k // hidden, k % hidden


@triton.jit
def _blocks(at, hidden, inside, UPCAST: tl.constexpr):
    """The first three gate blocks of one row at ``at``: ``at``, ``at + H``, ``at + 2H``."""
    return (_load(at, inside, UPCAST), _load(at + hidden, inside, UPCAST),
            _load(at + 2 * hidden, inside, UPCAST))


@triton.jit
def _incoming(dh, dy, keep, k, b, inside, MASKED: tl.constexpr, HAS_DY: tl.constexpr,
              UPCAST: tl.constexpr):
    """Of the gradient reaching ``h_t`` (``dh``): the share this step uses (none at a
    padded step); the part of ``dh_{t-1}`` that is not the recurrent matmul (``dy_{t-1}``,
    plus ``dh`` passed on unchanged at a padded step), and the mask of real steps."""
    d_h = _load(dh + k, inside, UPCAST)
    past = d_h * 0
    if HAS_DY:
        past = _load(dy + k, inside, UPCAST)
    on = inside
    if MASKED:
        on = tl.load(keep + b, mask=inside) != 0
    return tl.where(on, d_h, 0.0), past + tl.where(on, 0.0, d_h), on


@triton.jit
def lstm_forward(gates, c_prev, c_now, tanh_c, h_prev, h_now, keep, hidden, total,
                 MASKED: tl.constexpr, UPCAST: tl.constexpr, BLOCK: tl.constexpr):
    k, inside, b, j = _lanes(hidden, total, BLOCK)
    g_at = gates + b * 4 * hidden + j
    i, f, g = _blocks(g_at, hidden, inside, UPCAST)
    i, f, g = _sigmoid(i), _sigmoid(f), _tanh(g)
    o = _sigmoid(_load(g_at + 3 * hidden, inside, UPCAST))
    c0 = _load(c_prev + k, inside, UPCAST)
    c = f * c0 + i * g
    tc = _tanh(c)
    h = o * tc
    if MASKED:
        on = tl.load(keep + b, mask=inside) != 0
        c = tl.where(on, c, c0)
        h = tl.where(on, h, _load(h_prev + k, inside, UPCAST))
    _store(g_at, i, inside)
    _store(g_at + hidden, f, inside)
    _store(g_at + 2 * hidden, g, inside)
    _store(g_at + 3 * hidden, o, inside)
    _store(c_now + k, c, inside)
    _store(tanh_c + k, tc, inside)
    _store(h_now + k, h, inside)


@triton.jit
def lstm_backward(gates, c_prev, tanh_c, d_gates, dh, dc, dh_out, dy, keep, hidden, total,
                  MASKED: tl.constexpr, HAS_DY: tl.constexpr, UPCAST: tl.constexpr,
                  BLOCK: tl.constexpr):
    # dc becomes the gradient reaching c_{t-1}; dh_out the part of dh_{t-1} that is not the
    # recurrent matmul (added after).
    k, inside, b, j = _lanes(hidden, total, BLOCK)
    g_at = b * 4 * hidden + j
    i, f, g = _blocks(gates + g_at, hidden, inside, UPCAST)
    o = _load(gates + g_at + 3 * hidden, inside, UPCAST)
    tc = _load(tanh_c + k, inside, UPCAST)
    c0 = _load(c_prev + k, inside, UPCAST)
    h_in, past, on = _incoming(dh, dy, keep, k, b, inside, MASKED, HAS_DY, UPCAST)
    d_c = _load(dc + k, inside, UPCAST)
    c_in = tl.where(on, d_c, 0.0)
    c_tot = c_in + h_in * o * (1 - tc * tc)
    _store(d_gates + g_at, c_tot * g * i * (1 - i), inside)
    _store(d_gates + g_at + hidden, c_tot * c0 * f * (1 - f), inside)
    _store(d_gates + g_at + 2 * hidden, c_tot * i * (1 - g * g), inside)
    _store(d_gates + g_at + 3 * hidden, h_in * tc * o * (1 - o), inside)
    _store(dc + k, c_tot * f + d_c - c_in, inside)
    _store(dh_out + k, past, inside)


@triton.jit
def gru_forward(x, gi, n_out, h_prev, h_now, keep, hidden, total,
                MASKED: tl.constexpr, UPCAST: tl.constexpr, BLOCK: tl.constexpr):
    # x: [r, z, gh_n] pre-activations in, [r, z, gh_n] (r, z activated) out; gi: gi_n.
    k, inside, b, j = _lanes(hidden, total, BLOCK)
    x_at = b * 3 * hidden + j
    r, z, gh_n = _blocks(x + x_at, hidden, inside, UPCAST)
    r, z = _sigmoid(r), _sigmoid(z)
    n = _tanh(_load(gi + x_at + 2 * hidden, inside, UPCAST) + r * gh_n)
    h0 = _load(h_prev + k, inside, UPCAST)
    h = n + z * (h0 - n)
    if MASKED:
        h = tl.where(tl.load(keep + b, mask=inside) != 0, h, h0)
    _store(x + x_at, r, inside)
    _store(x + x_at + hidden, z, inside)
    _store(n_out + k, n, inside)
    _store(h_now + k, h, inside)


@triton.jit
def gru_backward(x, n_in, h_prev, d, dh, dh_out, dy, keep, hidden, total,
                 MASKED: tl.constexpr, HAS_DY: tl.constexpr, UPCAST: tl.constexpr,
                 BLOCK: tl.constexpr):
    # d: [dgh_n, dG_r, dG_z, dG_n] of one step; dh_out: dh_{t-1} less the recurrent matmul.
    k, inside, b, j = _lanes(hidden, total, BLOCK)
    r, z, gh_n = _blocks(x + b * 3 * hidden + j, hidden, inside, UPCAST)
    n = _load(n_in + k, inside, UPCAST)
    h0 = _load(h_prev + k, inside, UPCAST)
    h_in, past, _ = _incoming(dh, dy, keep, k, b, inside, MASKED, HAS_DY, UPCAST)
    d_n = h_in * (1 - z) * (1 - n * n)
    d_at = d + b * 4 * hidden + j
    _store(d_at, d_n * r, inside)
    _store(d_at + hidden, d_n * gh_n * r * (1 - r), inside)
    _store(d_at + 2 * hidden, h_in * (h0 - n) * z * (1 - z), inside)
    _store(d_at + 3 * hidden, d_n, inside)
    _store(dh_out + k, past + h_in * z, inside)
