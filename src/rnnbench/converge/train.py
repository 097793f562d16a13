"""The training loop: epochs of Adam steps, an evaluation after each, resumable per epoch.

Reproducibility: ``torch.manual_seed(seed)`` before a model is built fixes its initial
weights; batches come from per-(seed, epoch) generators; the global RNG (dropout) is saved
in every checkpoint. A resumed run therefore continues exactly where it stopped.

Divergence: as soon as a training loss, or after the epoch an evaluation metric, is not a
finite number (or the optimizer step overflows), the run stops and is recorded as
``diverged`` with the epoch; training goes on with the next run.
"""

from __future__ import annotations

import contextlib
import functools
import math
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

import torch
from tqdm import tqdm

from rnnbench.converge.experiments import Experiment
from rnnbench.converge.metrics import peak_memory, reset_peak_memory
from rnnbench.converge.models import ConvergenceModel, parameter_record
from rnnbench.converge.store import ResultsStore, now


class Diverged(Exception):
    """The run's loss or a metric stopped being a finite number; the message says which."""


@contextlib.contextmanager
def flushing_denormals() -> Iterator[bool]:
    """Treat denormal floats as zero while training; yields whether the CPU supports it.

    Backpropagating through many steps from one final state makes gradients denormal, and
    on x86 CPUs every operation on a denormal is slow: it made ``nn.LSTM``'s backward 13x
    slower on this project's CPU (5.99 s -> 0.44 s per batch at B64, T256, 2 layers). The
    values involved are below 1e-38, so results do not change. The mode is process-wide
    (it also changes Python float arithmetic), so it is switched off again afterwards.
    """
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        torch.set_flush_denormal(False)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_epoch(experiment: Experiment, model: ConvergenceModel, optimizer: torch.optim.Optimizer,
                seed: int, epoch: int, device: torch.device, desc: str = "",
                quiet: bool = True) -> dict[str, float]:
    """One pass over the epoch's training batches; loss and accuracy are epoch means."""
    clip = experiment.settings.grad_clip
    model.train()
    loss_sum = loss_count = hits = hit_count = tokens = padded = steps = 0
    _synchronize(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    batches = tqdm(experiment.train_batches(seed, epoch), total=experiment.train_steps(),
                   desc=desc, leave=False, unit="batch", disable=quiet or not sys.stderr.isatty())
    for batch in batches:  # a progress bar on an interactive terminal only
        batch = batch.to(device)
        optimizer.zero_grad(set_to_none=True)
        tally = experiment.tally(model(batch.inputs, batch.lengths), batch)
        batch_loss = float(tally.loss_sum.detach())
        if not math.isfinite(batch_loss):
            raise Diverged(f"train_loss is {batch_loss} at step {steps + 1} of the epoch")
        (tally.loss_sum / tally.loss_count).backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        try:
            optimizer.step()
        except RuntimeError as error:  # Adam with a huge lr: "cannot be converted ... overflow"
            if "overflow" not in str(error):
                raise
            raise Diverged(f"the optimizer step {steps + 1} of the epoch overflowed "
                           f"(lr={experiment.settings.lr!r} too large?)") from None
        loss_sum += batch_loss
        loss_count += tally.loss_count
        hits, hit_count = hits + tally.hits, hit_count + tally.hit_count
        tokens, padded, steps = tokens + batch.tokens, padded + batch.padded_tokens, steps + 1
    _synchronize(device)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "train_loss": loss_sum / loss_count, "train_accuracy": hits / hit_count,
        "train_seconds": seconds, "train_cpu_seconds": cpu_seconds, "train_steps": steps,
        "tokens": tokens, "padded_tokens": padded, "tokens_per_second": tokens / seconds,
    }


@torch.no_grad()
def evaluate(experiment: Experiment, model: ConvergenceModel, split: str,
             device: torch.device) -> dict[str, float]:
    """Mean loss and accuracy over one evaluation split, dropout off."""
    model.eval()
    loss_sum, loss_count, hits, hit_count = 0.0, 0, 0, 0
    for batch in experiment.eval_batches(split):
        batch = batch.to(device)
        tally = experiment.tally(model(batch.inputs, batch.lengths), batch)
        loss_sum += float(tally.loss_sum)
        loss_count += tally.loss_count
        hits, hit_count = hits + tally.hits, hit_count + tally.hit_count
    return {f"{split}_loss": loss_sum / loss_count, f"{split}_accuracy": hits / hit_count}


def summary(experiment: Experiment, epochs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's summary: the task's own fields plus timing; empty before the first epoch."""
    if not epochs:
        return {}
    return {
        **experiment.summarise(epochs),
        "seconds_per_epoch": statistics.median(e["train_seconds"] for e in epochs),
        # absent from files written before it was recorded
        "cpu_seconds_per_epoch": statistics.median(e["train_cpu_seconds"] for e in epochs)
        if all("train_cpu_seconds" in e for e in epochs) else None,
        "tokens_per_second": statistics.median(e["tokens_per_second"] for e in epochs),
        "peak_memory_mib": max(e["peak_memory_mib"] for e in epochs),
    }


def run(experiment: Experiment, cell: str, seed: int, epochs: int, store: ResultsStore,
        device: torch.device, quiet: bool = False) -> dict[str, Any]:
    """Trains ``cell`` with ``seed`` up to ``epochs`` epochs, resuming from its checkpoint.

    A run the results file records as finished (``done`` with ``epochs`` epochs, or
    ``diverged``) is kept as it is: it needs no checkpoint.
    """
    log = (lambda line: None) if quiet else functools.partial(print, flush=True)
    record = store.run(cell, seed)
    if not store.restart and (record["status"] == "diverged" or (
            record["status"] == "done" and len(record["epochs"]) == epochs)):
        return record
    torch.manual_seed(seed)
    model = experiment.build_model(cell).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=experiment.settings.lr)
    record.update(impl=model.stack.impl, epochs_requested=epochs, params=parameter_record(model))
    state = store.load_checkpoint(cell, seed)
    if state is not None:
        if len(state["epochs"]) > epochs:
            raise store.bad_checkpoint(cell, seed, f"holds {len(state['epochs'])} epochs, more "
                                       f"than --epochs {epochs} asks (a shorter run is never "
                                       "reported from a longer one)")
        _restore(store, cell, seed, state, model, optimizer, device)
        record["epochs"] = state["epochs"]  # the checkpoint is written first: it is the truth
    else:
        if record["epochs"]:
            log(f"{experiment.task} {cell} seed {seed}: no usable checkpoint in "
                f"{store.checkpoints}; training again from epoch 1")
        record["epochs"] = []
    record["summary"] = summary(experiment, record["epochs"])
    done = len(record["epochs"])
    if done >= epochs:
        record["status"] = "done"
        return record
    if done:
        log(f"{experiment.task} {cell} seed {seed}: resuming after epoch {done}")
    record["status"], record["finished"] = "running", None
    record.pop("diverged", None)
    step = record["epochs"][-1]["step"] if done else 0
    for epoch in range(done + 1, epochs + 1):
        desc = f"{cell} seed {seed} epoch {epoch}/{epochs}"
        windowed = reset_peak_memory(device)
        row: dict[str, Any] = {"epoch": epoch,
                               "device_name": store.document["environment"].get("device_name")}
        try:
            trained = train_epoch(experiment, model, optimizer, seed, epoch, device, desc, quiet)
            step += trained.pop("train_steps")
            row["step"] = step
            row.update(trained)
            start = time.perf_counter()
            for split in experiment.eval_splits:
                row.update(evaluate(experiment, model, split, device))
            for split in experiment.held_out(record["epochs"], row):
                row.update(evaluate(experiment, model, split, device))
            bad = [key for key, value in row.items()
                   if isinstance(value, float) and not math.isfinite(value)]
            if bad:
                raise Diverged(", ".join(f"{key} is {row[key]}" for key in bad)
                               + " after the epoch")
        except Diverged as why:
            record.update(status="diverged", finished=now(),
                          diverged={"epoch": epoch, "reason": str(why)})
            store.write()
            log(f"{experiment.task} {cell} seed {seed}: diverged in epoch {epoch}: {why}; "
                "recorded as diverged")
            return record
        _synchronize(device)
        row["eval_seconds"] = time.perf_counter() - start
        row["peak_memory_mib"], row["peak_memory_method"] = peak_memory(device, windowed)
        row["finished"] = now()
        record["epochs"].append(row)
        record["summary"] = summary(experiment, record["epochs"])
        if epoch == epochs:
            record["status"], record["finished"] = "done", now()
        checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                      "rng": torch.get_rng_state(), "epochs": record["epochs"]}
        if device.type == "cuda":
            checkpoint["cuda_rng"] = torch.cuda.get_rng_state(device)
        store.save_checkpoint(cell, seed, checkpoint)
        store.write()
        log(epoch_line(experiment, cell, seed, epochs, row))
    return record


def _restore(store: ResultsStore, cell: str, seed: int, state: dict[str, Any],
             model: ConvergenceModel, optimizer: torch.optim.Optimizer,
             device: torch.device) -> None:
    """Load a checkpoint's states; one that does not fit this model names the file."""
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        if device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise store.bad_checkpoint(cell, seed, f"does not fit the model ({first_line})") \
            from None


def epoch_line(experiment: Experiment, cell: str, seed: int, epochs: int,
               row: dict[str, Any]) -> str:
    """One human-readable line per epoch (logs of background runs read like this)."""
    splits = [key.removesuffix("_loss") for key in row
              if key.endswith("_loss") and key != "train_loss"]  # the splits scored this epoch
    scores = "  ".join(f"{split} loss {row[f'{split}_loss']:.4f} acc {row[f'{split}_accuracy']:.4f}"
                       for split in splits)
    return (f"{experiment.task} {cell} seed {seed} epoch {row['epoch']}/{epochs} "
            f"(step {row['step']}): train loss {row['train_loss']:.4f}  {scores}  "
            f"{row['train_seconds']:.1f}+{row['eval_seconds']:.1f} s  "
            f"{row['tokens_per_second']:,.0f} tok/s")
