"""What machine the benchmarks ran on, for pytest-benchmark's ``machine_info``: library
versions, the CPU model and thread counts, and on NVIDIA machines each GPU's name, driver,
memory, clocks, temperature, power and throttle reasons read with NVML (``pynvml``, package
``nvidia-ml-py``; a field NVML cannot read is simply absent).

``device_name`` names what the timings are of (the GPU when CUDA cases run, else the CPU model).
Readings that change from run to run on one machine (each GPU's ``state``, the load averages
under :data:`LOAD`) are left out of comparisons (:func:`drop_volatile`).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

#: The key, inside each GPU's entry, of the readings that change between runs.
VOLATILE = "state"
#: The ``machine_info`` key of the run's load averages (see :func:`load_info`).
LOAD = "load_average_1m"


def machine_info(devices: Iterable[str], cpu_model: str | None = None) -> dict[str, Any]:
    """The fields rnnbench adds to ``machine_info``; ``devices`` are those the run measures."""
    cpu_model = cpu_model or platform.processor() or platform.machine()
    cuda = torch.cuda.is_available()
    return {
        **library_versions(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if cuda else [],
        "gpus": nvml_gpus(),
        "device_name": torch.cuda.get_device_name(0) if cuda and "cuda" in devices else cpu_model,
    }


def library_versions() -> dict[str, str | int | None]:
    """Versions of what the timings depend on: Python, torch, CUDA, cuDNN, rnnbench."""
    from rnnbench import __version__

    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {"python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": cudnn, "rnnbench": __version__}


def nvml_gpus() -> list[dict[str, Any]]:
    """One entry per GPU that NVML sees; ``[]`` without NVML, its driver or any GPU."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # no package, no driver, no permission: no GPU readings
        return []
    try:
        count = _read(pynvml.nvmlDeviceGetCount) or 0
        return [_gpu(pynvml, index) for index in range(count)]
    finally:
        _read(pynvml.nvmlShutdown)


def _gpu(nvml: Any, index: int) -> dict[str, Any]:
    handle = _read(nvml.nvmlDeviceGetHandleByIndex, index)
    if handle is None:
        return {"index": index}
    sm, mem = nvml.NVML_CLOCK_SM, nvml.NVML_CLOCK_MEM
    memory = _read(nvml.nvmlDeviceGetMemoryInfo, handle)
    reasons_of = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
        nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", None)
    reasons = _read(reasons_of, handle)
    return {
        "index": index,
        "name": _text(_read(nvml.nvmlDeviceGetName, handle)),
        "uuid": _text(_read(nvml.nvmlDeviceGetUUID, handle)),
        "driver": _text(_read(nvml.nvmlSystemGetDriverVersion)),
        "memory_total_bytes": getattr(memory, "total", None),
        "sm_clock_max_mhz": _read(nvml.nvmlDeviceGetMaxClockInfo, handle, sm),
        "memory_clock_max_mhz": _read(nvml.nvmlDeviceGetMaxClockInfo, handle, mem),
        "power_limit_w": _watts(_read(nvml.nvmlDeviceGetEnforcedPowerLimit, handle)),
        VOLATILE: {
            "sm_clock_mhz": _read(nvml.nvmlDeviceGetClockInfo, handle, sm),
            "memory_clock_mhz": _read(nvml.nvmlDeviceGetClockInfo, handle, mem),
            "temperature_c": _read(nvml.nvmlDeviceGetTemperature, handle,
                                   nvml.NVML_TEMPERATURE_GPU),
            "power_w": _watts(_read(nvml.nvmlDeviceGetPowerUsage, handle)),
            "memory_used_bytes": getattr(memory, "used", None),
            "throttle_reasons": None if reasons is None else throttle_reasons(nvml, reasons),
        },
    }


def throttle_reasons(nvml: Any, mask: int) -> list[str]:
    """The names of the bits set in an NVML clocks-event (throttle) mask, e.g. ``SwPowerCap``."""
    names = {}
    for prefix in ("nvmlClocksThrottleReason", "nvmlClocksEventReason"):
        for attribute in dir(nvml):
            if attribute.startswith(prefix) and attribute[len(prefix):] not in ("All", "None"):
                names.setdefault(getattr(nvml, attribute), attribute[len(prefix):])
    return sorted(name for bit, name in names.items() if bit and mask & bit == bit)


def _read(call: Callable[..., Any] | None, *args: Any) -> Any:
    """``call(*args)``, or None when NVML cannot say (old driver, unsupported field, ...)."""
    try:
        return call(*args)  # type: ignore[misc]
    except Exception:  # None too: no such function in this pynvml
        return None


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _watts(milliwatts: Any) -> float | None:
    return None if milliwatts is None else milliwatts / 1000


def cpu_model() -> str:
    """The CPU's model name (Linux: from /proc/cpuinfo), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> float | None:
    """The 1-minute load average of the machine, or None where the OS keeps none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def load_info(start: float | None, end: float | None) -> dict[str, Any]:
    """The :data:`LOAD` entry: load averages at start and end, cores and this run's threads."""
    return {"start": start, "end": end, "cpu_count": os.cpu_count(),
            "threads": torch.get_num_threads()}


def load_warning(load: Mapping[str, Any]) -> str | None:
    """A sentence when other work competed for the CPU during the run, else None.

    At the start the load average is other work's alone; at the end it also counts the run's
    own threads (as many cores as it keeps busy, at most ``threads``). Whatever is left, a
    whole core or half of the cores (whichever is more), is enough competition to blur
    timings.
    """
    cores = load.get("cpu_count") or 1
    start, end, threads = load.get("start"), load.get("end"), load.get("threads") or 1
    others = max(start or 0.0, (end or 0.0) - min(threads, cores))
    if others < max(1.0, cores / 2):
        return None
    return (f"load average {_load(start)} at start, {_load(end)} at end on {cores} cores: "
            "other work competed for the CPU, so these timings are noisy; rerun on an idle "
            "machine before comparing them")


def _load(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def check_comparable(current: dict[str, Any], saved: dict[str, Any]) -> None:
    """Raise ``ValueError`` when two runs' timings are of different devices."""
    now, then = current.get("device_name"), saved.get("device_name")
    if now != then:
        raise ValueError(
            f"saved results with device_name={then!r} are not accepted for comparison with "
            f"this run on device_name={now!r}: timings of different devices do not compare; "
            "compare against results saved on the same device (see --benchmark-storage)"
        )


def drop_volatile(info: dict[str, Any]) -> None:
    """Removes, in place, the readings that differ between runs of one machine."""
    info.pop(LOAD, None)
    for gpu in info.get("gpus") or []:
        if isinstance(gpu, dict):
            gpu.pop(VOLATILE, None)
