"""machine_info: versions, threads, NVML readings when there are any, and the device check."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from rnnbench.bench import machine


def test_cpu_run_is_named_after_the_cpu() -> None:
    info = machine.machine_info(["cpu"], cpu_model="Test CPU 9000")
    assert info["device_name"] == "Test CPU 9000" and info["cpu_model"] == "Test CPU 9000"
    assert info["threads"] == torch.get_num_threads()
    assert info["torch"] == torch.__version__
    assert {"cuda", "cudnn", "python", "rnnbench", "gpus"} <= set(info)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
def test_without_cuda_even_a_cuda_run_names_the_cpu() -> None:
    assert machine.machine_info(["cpu", "cuda"], "Test CPU")["device_name"] == "Test CPU"


class FakeNVMLError(Exception):
    pass


def fake_nvml(fail: set[str]) -> types.ModuleType:
    """A pynvml stand-in with one GPU; the functions named in ``fail`` raise."""
    nvml = types.ModuleType("pynvml")
    values = {
        "nvmlInit": None, "nvmlShutdown": None, "nvmlDeviceGetCount": 1,
        "nvmlDeviceGetHandleByIndex": "handle", "nvmlDeviceGetName": b"Fake GPU",
        "nvmlDeviceGetUUID": "GPU-1", "nvmlSystemGetDriverVersion": "555.1",
        "nvmlDeviceGetMemoryInfo": types.SimpleNamespace(total=80, used=3),
        "nvmlDeviceGetMaxClockInfo": 1980, "nvmlDeviceGetClockInfo": 1410,
        "nvmlDeviceGetTemperature": 41, "nvmlDeviceGetPowerUsage": 70500,
        "nvmlDeviceGetEnforcedPowerLimit": 700000,
        "nvmlDeviceGetCurrentClocksEventReasons": 0x4,
    }

    def make(name: str, value: object):
        def call(*args: object) -> object:
            if name in fail:
                raise FakeNVMLError(name)
            return value
        return call

    for name, value in values.items():
        setattr(nvml, name, make(name, value))
    nvml.NVML_CLOCK_SM, nvml.NVML_CLOCK_MEM, nvml.NVML_TEMPERATURE_GPU = 1, 2, 0
    nvml.nvmlClocksEventReasonGpuIdle, nvml.nvmlClocksEventReasonSwPowerCap = 0x1, 0x4
    nvml.nvmlClocksEventReasonAll, nvml.nvmlClocksEventReasonNone = 0xFF, 0
    return nvml


def test_nvml_readings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(fail=set()))
    [gpu] = machine.nvml_gpus()
    assert gpu["name"] == "Fake GPU" and gpu["driver"] == "555.1"
    assert gpu["memory_total_bytes"] == 80 and gpu["sm_clock_max_mhz"] == 1980
    assert gpu["power_limit_w"] == 700.0
    assert gpu["state"] == {"sm_clock_mhz": 1410, "memory_clock_mhz": 1410,
                            "temperature_c": 41, "power_w": 70.5, "memory_used_bytes": 3,
                            "throttle_reasons": ["SwPowerCap"]}


def test_a_field_nvml_cannot_read_is_left_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = fake_nvml(fail={"nvmlDeviceGetPowerUsage", "nvmlDeviceGetCurrentClocksEventReasons"})
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    [gpu] = machine.nvml_gpus()
    assert gpu["state"]["power_w"] is None and gpu["state"]["throttle_reasons"] is None
    assert gpu["name"] == "Fake GPU"


def test_no_nvml_driver_means_no_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(fail={"nvmlInit"}))
    assert machine.nvml_gpus() == []
    monkeypatch.setitem(sys.modules, "pynvml", None)  # not installed: import fails
    assert machine.nvml_gpus() == []


def test_runs_of_different_devices_are_not_compared() -> None:
    machine.check_comparable({"device_name": "NVIDIA H100"}, {"device_name": "NVIDIA H100"})
    with pytest.raises(ValueError, match=r"device_name='NVIDIA A100'.*device_name='NVIDIA H100'"):
        machine.check_comparable({"device_name": "NVIDIA H100"}, {"device_name": "NVIDIA A100"})


def test_volatile_readings_are_left_out_of_a_comparison() -> None:
    info = {"gpus": [{"name": "G", "state": {"temperature_c": 40}}], "torch": "2"}
    machine.drop_volatile(info)
    assert info == {"gpus": [{"name": "G"}], "torch": "2"}
