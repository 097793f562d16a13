"""impl ``derived``: a fused scan for any registered cell, derived from its step alone.

The cell's step (:mod:`.cells`) is traced once per shape into ATen ops (``make_fx``) and cut
at its *recurrent matmuls*: every ``mm``/``addmm`` whose right operand depends on the weights
alone, ``m_k = lhs_k @ M_k`` with ``M_k`` a view of ``W_hh^T`` (the whole matrix, or a block
of it as in MGU). What is left is pointwise work, and each step becomes::

    lhs_k = stage_k(gi_t, state, weights, m_<k)     # usually the state h itself: no work
    m_k   = lhs_k @ M_k                             # the recurrent matmul(s)
    state = final(gi_t, state, weights, m)          # the cell's pointwise step

Forward: the loop above, keeping the states and the ``m_k`` (all that the backward reads).
Backward, per step in reverse: the vector-Jacobian product of ``final`` (``torch.func.vjp``,
traced into one flat graph that recomputes the few pointwise ops it needs), then
``d lhs_k = dm_k @ M_k^T`` into the carried state gradient. After the loop
``dM_k = lhs_k^T @ dm_k`` is **one** matmul over all ``T*B`` rows (cuDNN's and haste's
way); ``d(gi)`` leaves through the projection's own autograd, as single large matmuls too.
Nothing here is written per cell: a new ``Cell`` entry gets this scan from its step.

A step's forward and its backward are each compiled by Inductor into one call, once per
cell, shape, dtype, device and thread count (a few seconds each): the matmuls go to BLAS, the
pointwise work into one C++ kernel on the CPU; on CUDA the same graphs would become Triton
kernels, which no GPU has run yet. :data:`SETTINGS` ``.compile = False`` runs the same traced
ATen graphs op by op instead (no compiler needed). Padded steps of variable-length input keep
the old state: ``final`` is traced with ``where(keep, new, old)``, so its product passes the
state gradient through them. ``tests/test_derived.py`` checks every cell against eager and
``nn.LSTM``/``nn.GRU`` in float64 to 1e-10, and ``gradcheck``s the backward.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, fx, nn
from torch.autograd.function import once_differentiable
from torch.fx.experimental.proxy_tensor import make_fx

aten = torch.ops.aten
_MATMULS = (aten.mm.default, aten.addmm.default)

Kernel = Callable[..., Sequence[Tensor]]


@dataclass
class DerivedSettings:
    """``compile``: run the pointwise stages as Inductor kernels (else as traced ATen ops)."""

    compile: bool = True


SETTINGS = DerivedSettings()


@dataclass(frozen=True)
class Plan:
    """A cell's step cut at its recurrent matmuls, compiled for one shape, dtype and device.

    ``forward(gi_t, *state, *weights, *M, [keep]) -> (*new state, *m, *lhs)`` runs one step
    and returns what the backward reads: the matmul results ``m`` and the left operands that
    are not a state as it is (``lhs[k]``: the state it is, else None).
    ``backward(gi_t, *state, *weights, *M, *m, [keep], dy_t, *d new state) -> (d gi_t,
    *d state, *d weights[used], *dm)``.
    """

    states: int
    used: tuple[int, ...]  # the weights that the pointwise work reads
    prep: fx.GraphModule  # weights -> M, run under autograd
    lhs: tuple[int | None, ...]
    forward: Kernel
    backward: Kernel


def _ancestors(outputs: Sequence[fx.Node], stop: Sequence[fx.Node] = ()) -> set[fx.Node]:
    seen: set[fx.Node] = set()
    todo = list(outputs)
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            if node not in stop:
                todo.extend(node.all_input_nodes)
            elif node.target is aten.addmm.default:  # a hole keeps its bias
                todo.append(node.args[0])
    return seen


def _subgraph(gm: fx.GraphModule, inputs: Sequence[fx.Node], outputs: Sequence[fx.Node],
              holes: Sequence[fx.Node] = ()) -> fx.GraphModule:
    """The part of ``gm`` from ``inputs`` to ``outputs``, each matmul in ``holes`` replaced by
    one more input ``m_k`` (``addmm``'s bias added to it)."""
    graph = fx.Graph()
    env: dict[fx.Node, Any] = {node: graph.placeholder(node.name) for node in inputs}
    m = [graph.placeholder(f"m{k}") for k in range(len(holes))]
    needed = _ancestors(outputs, holes)
    for node in gm.graph.nodes:
        if node not in needed or node in env:
            continue
        if node in holes:
            hole = m[holes.index(node)]
            env[node] = (hole if node.target is aten.mm.default
                         else graph.call_function(aten.add.Tensor, (env[node.args[0]], hole)))
        else:
            env[node] = graph.node_copy(node, lambda n: env[n])
    graph.output(tuple(env[o] for o in outputs))
    return fx.GraphModule(gm, graph)


def _matmuls(gm: fx.GraphModule, weights: Sequence[fx.Node]) -> list[fx.Node]:
    """The recurrent matmuls: right operand from the weights alone, left one from the state."""
    deps: dict[fx.Node, set[fx.Node]] = {}
    found = []
    for node in gm.graph.nodes:
        deps[node] = ({node} if node.op == "placeholder"
                      else set().union(*(deps[a] for a in node.all_input_nodes)))
        if (node.target in _MATMULS and not node.kwargs and deps[node.args[-1]] <= set(weights)
                and not deps[node.args[-2]] <= set(weights)):
            found.append(node)
    return found


def _reads(gm: fx.GraphModule) -> set[str]:
    return {node.name for node in gm.graph.nodes if node.op == "placeholder" and node.users}


def _compiled(fn: Callable[..., Sequence[Tensor]], example: Sequence[Tensor]) -> Kernel:
    """``fn`` traced into ATen ops and, with :data:`SETTINGS` ``.compile``, one Inductor
    graph specialised to ``example``'s shapes and strides (Inductor's own entry point: no
    guards, no autograd wrapper around it)."""
    if not SETTINGS.compile:
        return make_fx(fn)(*example)
    from torch._inductor.compile_fx import compile_fx_inner
    from torch._inductor.decomposition import select_decomp_table

    gm = make_fx(fn, decomposition_table=select_decomp_table())(*example)
    kernel = compile_fx_inner(gm, [e.clone() for e in example])
    call = getattr(kernel, "current_callable", kernel)  # the generated code itself: no wrapper
    return lambda *args: call(list(args))


def _vjp(fn: Callable[..., Sequence[Tensor]], args: list[Tensor], wrt: Sequence[int],
         cotangents: Sequence[Tensor]) -> list[Tensor]:
    """The gradients of ``args[wrt]`` from ``fn(*args)`` and its ``cotangents``."""

    def f(*x: Tensor) -> tuple[Tensor, ...]:
        full = list(args)
        for i, value in zip(wrt, x, strict=True):
            full[i] = value
        return tuple(fn(*full))

    _, pullback = torch.func.vjp(f, *(args[i] for i in wrt))
    return list(pullback(tuple(cotangents)))


@functools.lru_cache(maxsize=256)
def plan(step_type: type[nn.Module], key: tuple[Any, ...]) -> Plan:
    """The cut step of ``step_type`` for ``key = (gi_t shape, state shapes, weight shapes,
    dtype, device, masked, threads, compile)``, traced and compiled once (Inductor's CPU
    kernels are built for the thread count they will run with)."""
    gi_shape, state_shapes, weight_shapes, dtype, device, masked, _, _ = key
    make = functools.partial(torch.randn, dtype=dtype, device=device)
    gi, states, weights = make(gi_shape), [make(s) for s in state_shapes], [
        make(s) for s in weight_shapes]
    n, step = len(states), step_type()

    def flat_step(gi_t: Tensor, *args: Tensor) -> tuple[Tensor, ...]:
        return tuple(step(gi_t, list(args[:n]), list(args[n:])))

    gm = make_fx(flat_step)(gi, *states, *weights)
    places = [node for node in gm.graph.nodes if node.op == "placeholder"]
    state_nodes, weight_nodes = places[1 : 1 + n], places[1 + n :]
    matmuls = _matmuls(gm, weight_nodes)
    count = len(matmuls)
    (outputs,) = gm.graph.find_nodes(op="output")[0].args
    final_gm = _subgraph(gm, places, outputs, matmuls)
    sources = [mm.args[-2] for mm in matmuls]
    lhs: list[int | fx.GraphModule] = [
        state_nodes.index(src) if src in state_nodes else _subgraph(gm, places, [src], matmuls[:k])
        for k, src in enumerate(sources)]
    stages = [s for s in lhs if not isinstance(s, int)]
    reads = set().union(*(_reads(s) for s in [final_gm, *stages]))
    used = tuple(i for i, node in enumerate(weight_nodes) if node.name in reads)
    prep = _subgraph(gm, weight_nodes, [mm.args[-1] for mm in matmuls])
    mats = [t.detach() for t in prep(*weights)]
    ins = 1 + n + len(weights)  # gi_t, state, weights
    wrt = [*range(1 + n), *(1 + n + i for i in used)]

    def final(*args: Tensor) -> tuple[Tensor, ...]:  # (inputs, m, [keep])
        new = final_gm(*args[: ins + count])
        if not masked:
            return tuple(new)
        return tuple(torch.where(args[-1], a, b) for a, b in zip(new, args[1 : 1 + n], strict=True))

    def forward(*args: Tensor) -> tuple[Tensor, ...]:
        """``(inputs, M, [keep]) -> (*new state, *m, *lhs not a state)``"""
        inputs, mat, keep = args[:ins], args[ins : ins + count], args[ins + count :]
        m: list[Tensor] = []
        saved = []
        for source, mat_k in zip(lhs, mat, strict=True):
            value = inputs[1 + source] if isinstance(source, int) else source(*inputs, *m)[0]
            if not isinstance(source, int):
                saved.append(value)
            m.append(torch.mm(value, mat_k))
        return (*final(*inputs, *m, *keep), *m, *saved)

    def backward(*args: Tensor) -> tuple[Tensor, ...]:
        """``(inputs, M, m, [keep], dy_t, *d new state) -> (d gi_t, *d state, *d used, *dm)``"""
        inputs, mat = list(args[:ins]), args[ins : ins + count]
        m = list(args[ins + count : ins + 2 * count])
        keep = list(args[ins + 2 * count : ins + 2 * count + int(masked)])
        dy, d_new = args[ins + 2 * count + int(masked)], list(args[-n:])
        d_new[0] = d_new[0] + dy
        grads = _vjp(final, [*inputs, *m, *keep], [*wrt, *range(ins, ins + count)], d_new)
        for k in range(count - 1, -1, -1):
            d_lhs = torch.mm(grads[len(wrt) + k], mat[k].t())
            source = lhs[k]
            if isinstance(source, int):
                grads[1 + source] = grads[1 + source] + d_lhs
                continue
            more = _vjp(lambda *a, s=source: s(*a), [*inputs, *m[:k]],
                        [*wrt, *range(ins, ins + k)], [d_lhs])
            grads[: len(more)] = [a + b for a, b in zip(grads, more, strict=False)]
        return tuple(grads)

    m = [make(mm.meta["val"].shape) for mm in matmuls]
    keep = [torch.rand(gi_shape[0], 1, device=device) > 0.3] if masked else []
    inputs = [gi, *states, *weights]
    return Plan(states=n, used=used, prep=prep,
                lhs=tuple(s if isinstance(s, int) else None for s in lhs),
                forward=_compiled(forward, [*inputs, *mats, *keep]),
                backward=_compiled(backward, [*inputs, *mats, *m, *keep, make(state_shapes[0]),
                                              *(make(s) for s in state_shapes)]))


class DerivedScan(torch.autograd.Function):
    """One layer and direction of any cell: ``apply(plan, reverse, mask, gi, *state,
    *weights, *M) -> (outputs (T, B, H), *final state)`` (see the module docstring)."""

    @staticmethod
    def forward(ctx: Any, plan_: Plan, reverse: bool, mask: Tensor | None, gi: Tensor,
                *tensors: Tensor) -> tuple[Tensor, ...]:
        n = plan_.states
        state, rest = list(tensors[:n]), tensors[n:]  # rest: weights, M
        order = range(gi.shape[0] - 1, -1, -1) if reverse else range(gi.shape[0])
        gi_t = gi.unbind(0)
        keep = [(k,) for k in mask.unbind(0)] if mask is not None else [()] * gi.shape[0]
        history, saved = [state], []  # in the order the steps run
        for t in order:
            out = plan_.forward(gi_t[t], *state, *rest, *keep[t])
            state = list(out[:n])
            history.append(state)
            saved.append(out[n:])
        hs = torch.stack([s[0] for s in history])  # (T+1, B, H): h before and after each step
        outputs = hs[1:].flip(0) if reverse else hs[1:]
        if mask is not None:
            outputs = outputs * mask
        ctx.save_for_backward(gi, *tensors)
        ctx.plan, ctx.reverse, ctx.mask = plan_, reverse, mask
        ctx.history, ctx.saved, ctx.hs = history, saved, hs
        ctx.set_materialize_grads(False)
        return (outputs, *state)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor | None, *d_final: Tensor | None
                 ) -> tuple[Tensor | None, ...]:
        plan_: Plan = ctx.plan
        gi, *tensors = ctx.saved_tensors
        n, count, used = plan_.states, len(plan_.lhs), len(plan_.used)
        rest = tensors[n:]
        history, saved, mask, reverse = ctx.history, ctx.saved, ctx.mask, ctx.reverse
        steps = gi.shape[0]
        order = list(range(steps - 1, -1, -1) if reverse else range(steps))
        dy = gi.new_zeros(ctx.hs.shape[0] - 1, *ctx.hs.shape[1:]) if dy is None else (
            dy if mask is None else dy * mask).contiguous()
        d = [torch.zeros_like(s) if g is None else g.contiguous()
             for s, g in zip(history[0], d_final, strict=True)]
        gi_t, dy_t = gi.unbind(0), dy.unbind(0)
        keep = [(k,) for k in mask.unbind(0)] if mask is not None else [()] * steps
        d_gi: list[Tensor] = []  # in the order the steps run, backwards
        d_m: list[list[Tensor]] = [[] for _ in range(count)]
        d_used: list[list[Tensor]] = [[] for _ in range(used)]
        for k in range(steps - 1, -1, -1):
            t = order[k]
            grads = plan_.backward(gi_t[t], *history[k], *rest, *saved[k][:count], *keep[t],
                                   dy_t[t], *d)
            d_gi.append(grads[0])
            d = list(grads[1 : 1 + n])
            for slot, grad in enumerate(grads[1 + n : 1 + n + used]):
                d_used[slot].append(grad)
            for j, grad in enumerate(grads[1 + n + used :]):
                d_m[j].append(grad)
        dgi = torch.stack(d_gi[::-1])  # (T, B, G*H) in the order the steps ran
        d_mats = []
        for j, source in enumerate(plan_.lhs):
            index = count + plan_.lhs[:j].count(None)  # among the saved left operands
            lhs = (ctx.hs[:-1] if source == 0 else torch.stack([s[index] for s in saved])
                   if source is None else torch.stack([h[source] for h in history[:-1]]))
            dm = dgi if d_m[j][0] is d_gi[0] else torch.stack(d_m[j][::-1])
            d_mats.append(torch.mm(lhs.flatten(0, 1).t(), dm.flatten(0, 1)))  # one matmul
        d_weights: list[Tensor | None] = [None] * (len(tensors) - n - count)
        for slot, i in enumerate(plan_.used):
            d_weights[i] = torch.stack(d_used[slot]).sum(0)
        return (None, None, None, dgi.flip(0) if reverse else dgi, *d, *d_weights, *d_mats)


def _plan_for(step_type: type[nn.Module], gi: Tensor, state: Sequence[Tensor],
              weights: Sequence[Tensor], mask: Tensor | None) -> Plan:
    return plan(step_type, (tuple(gi.shape[1:]), tuple(tuple(s.shape) for s in state),
                            tuple(tuple(w.shape) for w in weights), gi.dtype, gi.device,
                            mask is not None, torch.get_num_threads(), SETTINGS.compile))


def scan_of(step_type: type[nn.Module]) -> Callable[..., tuple[Tensor, list[Tensor]]]:
    """The ``derived`` scan of a cell whose step is ``step_type``."""

    def derived_scan(gi: Tensor, state: list[Tensor], weights: list[Tensor], reverse: bool,
                     mask: Tensor | None) -> tuple[Tensor, list[Tensor]]:
        gi = gi.contiguous()
        state = [s.contiguous() for s in state]
        weights = [w.contiguous() for w in weights]
        plan_ = _plan_for(step_type, gi, state, weights, mask)
        mats = plan_.prep(*weights)
        out, *final = DerivedScan.apply(plan_, reverse, mask, gi, *state, *weights, *mats)
        return out, final

    return derived_scan
