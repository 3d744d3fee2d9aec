"""Resources (issue 26): what a job asks of its host, what a host offers, and what fits (pure:
no store, no processes; store/fits.py claims with it, the worker detects the offer with it).

- A request (job.resources): {"cpus": 2, "mem": 4294967296, "gpus": 0.5, "license": 1}; every
  key is optional, a job asking for nothing (None) needs only a slot.
- An offer (host.resources): {"cpus": 8, "mem": bytes, "gpus": [{"index": 0, "uuid": ..., "mem":
  bytes}, ...], "license": 2}.
- A grant (attempt.granted): {"cpus": 2, "mem": bytes, "gpus": {"0": 0.5}, "license": 1}: GPUs by
  device index and share, so that two running jobs never hold the same share of a device.

GPUs may be asked for in fractions below one (two 0.5 jobs share a device: the fullest device
that still has room is chosen, so fractions pack) or in whole devices (each wholly free).
"""

from __future__ import annotations

import math
import os
import re

from .errors import InputError

#: a named resource (`--resource license=2`)
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
BUILTIN = ("cpus", "mem", "gpus")
MAX_COUNT = 1_000_000
MAX_MEM = 1 << 60
_EPS = 1e-9
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*", re.IGNORECASE)
_SCALE = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(value: object, what: str = "mem") -> int:
    """4G, 512M, 1.5GiB, 1024 (bytes) -> bytes; binary units, as Slurm and free(1) read them."""
    if isinstance(value, bool):
        raise InputError(f"{what} must be a size like 4G or 512M, not {value!r}")
    if isinstance(value, int):
        size = value
    elif isinstance(value, float) and value.is_integer():
        size = int(value)
    elif isinstance(value, str) and (m := _SIZE.fullmatch(value)):
        size = int(float(m.group(1)) * _SCALE[m.group(2).lower()])
    else:
        raise InputError(f"{what} must be a size like 4G or 512M, not {str(value)[:40]!r}")
    if not 0 < size <= MAX_MEM:
        raise InputError(f"{what} must be more than 0 and at most 1 EiB, not {str(value)[:40]!r}")
    return size


_UNITS = (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def size(n: float | None) -> str:
    """Bytes as people read them: 4.3 GiB, 512.0 MiB, 900 B."""
    if n is None:
        return ""
    for unit, scale in _UNITS:
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def _count(name: str, value: object, whole: bool = False) -> float | int:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InputError(f"{name} must be a number, not {value[:40]!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{name} must be a number, not {str(value)[:40]!r}")
    if not 0 < value <= MAX_COUNT:
        raise InputError(f"{name} must be more than 0 and at most {MAX_COUNT}, not {value:g}")
    if whole and not float(value).is_integer():
        raise InputError(f"{name} must be a whole number, not {value:g}")
    return int(value) if float(value).is_integer() else float(value)


def validate_request(value: object) -> dict | None:
    """A job's request from JSON or flags: {} and None ask for nothing (None)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError(f'resources must be an object like {{"gpus": 1}}, not {type(value).__name__}')
    request: dict = {}
    for name, amount in value.items():
        if amount is None:
            continue
        if name == "mem":
            request["mem"] = parse_size(amount)
        elif name == "gpus":
            gpus = _count("gpus", amount)
            if gpus > 1 and not float(gpus).is_integer():
                raise InputError(f"gpus must be a fraction of one device or whole devices, not {gpus:g}")
            request["gpus"] = gpus
        elif name == "cpus":
            request["cpus"] = _count("cpus", amount)
        elif isinstance(name, str) and NAME_PATTERN.fullmatch(name):
            request[name] = _count(name, amount)
        else:
            raise InputError(f"invalid resource name {str(name)[:40]!r}: use a-z, 0-9 and _, starting with a letter")
    return request or None


def request_from_text(text: str) -> dict:
    """`gpus=1 mem=4G cpus=2 license=1` (spaces or commas between) -> a request as JSON writes
    it, to be checked by validate_request: the dashboard's form field."""
    request: dict = {}
    for part in re.split(r"[,\s]+", text.strip()):
        name, sep, amount = part.partition("=")
        if part and not sep:
            raise InputError(f"resources are NAME=N, e.g. gpus=1 mem=4G, not {part[:30]!r}")
        if part:
            request[name] = _number_or_text(amount)
    return request


def _number_or_text(text: str) -> int | float | str:
    """2 -> 2, 0.5 -> 0.5, 4G stays 4G (validate_request reads each)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def request_as_text(request: dict | None) -> str:
    """A request as request_from_text reads it back (mem in the largest whole unit)."""
    parts = []
    for name, amount in (request or {}).items():
        if name == "mem":
            unit = next(
                (
                    u
                    for u, scale in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10))
                    if amount % scale == 0
                ),
                "",
            )
            amount = f"{amount // _SCALE[unit.lower()]}{unit}"
        parts.append(f"{name}={amount:g}" if isinstance(amount, float) else f"{name}={amount}")
    return " ".join(parts)


def parse_assignment(text: str) -> tuple[str, float | int]:
    """`--resource NAME=N` -> (NAME, N)."""
    name, sep, amount = text.partition("=")
    name = name.strip()
    if not sep or not NAME_PATTERN.fullmatch(name) or name in BUILTIN:
        raise InputError(f"--resource takes NAME=N with a name of a-z, 0-9 and _ (not cpus, mem, gpus), not {text!r}")
    return name, _count(name, amount.strip())


# -- what a host offers ----------------------------------------------------------------------
def detect_cpus() -> int:
    """The CPUs this process may use (its affinity), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def detect_mem() -> int | None:
    """Physical memory, bytes."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def detect_gpus(environ: dict | None = None) -> list[dict]:
    """The GPUs `nvidia-smi` lists (when it is on PATH), restricted by CUDA_VISIBLE_DEVICES
    (indices or UUIDs) when that is set; [] when there is none or it fails."""
    import shutil  # (here: `add` and `list` import this module for its sizes, and never probe)
    import subprocess

    environ = os.environ if environ is None else environ
    tool = shutil.which("nvidia-smi", path=environ.get("PATH"))
    if tool is None:
        return []
    try:
        out = subprocess.run(
            [tool, "--query-gpu=index,uuid,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2 or not parts[0].isdigit():
            continue
        gpu = {"index": int(parts[0]), "uuid": parts[1]}
        if len(parts) > 2 and (m := re.match(r"(\d+)\s*MiB", parts[2])):
            gpu["mem"] = int(m.group(1)) << 20
        gpus.append(gpu)
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        wanted = [v.strip() for v in visible.split(",") if v.strip()]
        gpus = [g for g in gpus if str(g["index"]) in wanted or g["uuid"] in wanted]
    return gpus


def host_offer(cpus: float | None = None, mem: int | None = None, gpus: int | None = None, named=()) -> dict:
    """What this host offers: detected, then overridden (`worker start --cpus --mem --gpus`) or
    added to (`--resource NAME=N`).  --gpus N without detected devices offers devices 0..N-1;
    with them, the first N."""
    offer: dict = {"cpus": detect_cpus() if cpus is None else cpus}
    memory = detect_mem() if mem is None else mem
    if memory:
        offer["mem"] = memory
    devices = detect_gpus()
    if gpus is not None:
        devices = devices[:gpus] if len(devices) >= gpus else [{"index": i, "uuid": f"gpu-{i}"} for i in range(gpus)]
    if devices:
        offer["gpus"] = devices
    offer.update(dict(named))
    return offer


def totals(offer: dict | None) -> dict:
    """An offer as counts: {"cpus": 8, "mem": bytes, "gpus": 4, "license": 2}."""
    if not offer:
        return {}
    return {k: (len(v) if k == "gpus" else v) for k, v in offer.items()}


# -- what fits -------------------------------------------------------------------------------
class Free:
    """What a host has free: its offer less the grants of its open attempts."""

    def __init__(self, offer: dict | None, grants=()) -> None:
        offer = offer or {}
        self.counts = {k: float(v) for k, v in offer.items() if k != "gpus"}
        self.devices = {str(g["index"]): 1.0 for g in offer.get("gpus", [])}
        for grant in grants:
            self.take(grant)

    def take(self, grant: dict) -> None:
        for name, amount in grant.items():
            if name == "gpus":
                for index, share in amount.items():
                    if index in self.devices:
                        self.devices[index] -= share
            elif name in self.counts:
                self.counts[name] -= amount

    def short_of(self, request: dict) -> set[str]:
        """The resources of which this has too little for the request (empty: it fits)."""
        short = {n for n, a in request.items() if n != "gpus" and self.counts.get(n, 0.0) + _EPS < a}
        if "gpus" in request and self._devices_for(request["gpus"]) is None:
            short.add("gpus")
        return short

    def _devices_for(self, gpus: float) -> dict | None:
        if gpus < 1 - _EPS:  # a share of one device: the fullest that still has room
            room = [(free, int(i)) for i, free in self.devices.items() if free + _EPS >= gpus]
            if not room:
                return None
            _, index = min(room)
            return {str(index): gpus}
        whole = sorted(int(i) for i, free in self.devices.items() if free > 1 - _EPS)
        if len(whole) < round(gpus):
            return None
        return {str(i): 1 for i in whole[: round(gpus)]}

    def grant(self, request: dict) -> dict:
        """What the request is granted (it fits: see short_of), taken from what is free."""
        grant = {n: a for n, a in request.items() if n != "gpus"}
        if "gpus" in request:
            grant["gpus"] = self._devices_for(request["gpus"])
        self.take(grant)
        return grant


def unmet(request: dict | None, offers: list[dict]) -> str | None:
    """Why no live host (their `offers`) can ever run a job of this request, or None when one
    can (or no host is live: nothing is known yet)."""
    if not request or not offers:
        return None
    reasons = []
    for name, amount in request.items():
        have = [totals(o).get(name, 0) for o in offers]
        if name == "gpus" and amount < 1:
            fits = any(h >= 1 for h in have)
        else:
            fits = any(h + _EPS >= amount for h in have)
        if not fits:
            reasons.append((name, amount, max(have)))
    for offer in offers:  # each alone suffices somewhere, but not all on one host
        if not reasons and not Free(offer).short_of(request):
            return None
    if not reasons:
        return f"needs {describe(request)}; no live host offers all of it"
    name, amount, most = reasons[0]
    return f"needs {name}={show(name, amount)}; the largest live host offers {show(name, most)}"


def show(name: str, amount) -> str:
    if name == "mem":
        return size(amount).replace(" ", "")
    return f"{amount:g}" if isinstance(amount, (int, float)) else str(amount)


def describe(request: dict | None) -> str:
    return " ".join(f"{n}={show(n, a)}" for n, a in (request or {}).items())


def environment(grant: dict | None) -> dict[str, str]:
    """What a job granted resources finds in its environment: CUDA_VISIBLE_DEVICES (PCI order,
    as nvidia-smi numbers them) and queuectl's own variables, for programs that are not CUDA."""
    if not grant:
        return {}
    env = {}
    if "gpus" in grant:
        indices = ",".join(sorted(grant["gpus"], key=int))
        env["CUDA_VISIBLE_DEVICES"] = indices
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        env["QUEUECTL_GPUS"] = indices
        env["QUEUECTL_GPU_SHARES"] = ",".join(f"{i}:{s:g}" for i, s in sorted(grant["gpus"].items()))
    for name, amount in grant.items():
        if name != "gpus":
            env[f"QUEUECTL_{name.upper()}"] = f"{amount:g}" if isinstance(amount, float) else str(amount)
    return env
