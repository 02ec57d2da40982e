"""Run the protoc bundled in grpcio-tools on generated `.proto` files (tests only)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import grpc_tools
from google.protobuf import descriptor_pb2

WELL_KNOWN = Path(grpc_tools.__file__).parent / "_proto"


@dataclass(frozen=True)
class ProtocResult:
    returncode: int
    stderr: str
    files: dict[str, descriptor_pb2.FileDescriptorProto]


def run_protoc(proto_dir: Path, names: list[str], work: Path) -> ProtocResult:
    """Compile `names` (import paths under `proto_dir`); the descriptor set by file name."""
    out = work / "set.pb"
    cmd = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{proto_dir}", f"-I{WELL_KNOWN}",
        f"--descriptor_set_out={out}", f"--python_out={work}",
        *names,
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    if done.returncode == 0:
        fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
        files = {f.name: f for f in fds.file}
    return ProtocResult(done.returncode, done.stderr, files)
