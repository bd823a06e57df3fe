"""Machine code for a generated loop: compiled once with numba, loaded later without it.

:func:`compile_object` compiles ``advance`` (see :mod:`dynsys.kernels.source`) with numba, adds
a C entry point that calls it, keeps only what the entry point reaches, and returns the object
code (ELF on Linux) for the host CPU.  :func:`load` links object code into this process with
llvmlite's MCJIT and returns a ctypes function: a process whose kernel is cached on disk loads it
in a few milliseconds, without importing numba.  ctypes releases the GIL during the call, so
Python threads run calls side by side on disjoint members.

The numba functions are compiled with ``error_model="numpy"``: a division by zero gives inf or
nan as in numpy (the time loop then reports a divergence), never an exception.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .source import ARGUMENTS

ENTRY = "dynsys_advance_{key}"
_CTYPES = {
    "pointer": ctypes.c_void_p,
    "steps": ctypes.c_void_p,
    "int": ctypes.c_int64,
    "float": ctypes.c_double,
}
_LLVM = {"pointer": "ptr", "steps": "ptr", "int": "i64", "float": "double"}


class NativeError(RuntimeError):
    """The loop could not be compiled to, or loaded from, object code."""


@dataclass(frozen=True)
class Target:
    """The CPU object code is made for: it loads only on a CPU with the same name and
    features."""

    cpu: str
    features: str


def host() -> Target:
    llvm = _llvm()
    return Target(llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten())


def compile_object(python_function: Callable, globals_: dict[str, Any], key: str) -> bytes:
    """Object code of ``python_function`` (the generated ``advance``) with the C entry point
    ``ENTRY.format(key=key)``: ``int32 entry(arguments of ARGUMENTS)``, returning numba's
    status (0 when the call completed)."""
    import numba
    from numba import types

    numba_types = {
        "pointer": types.CPointer(types.float64),
        "steps": types.CPointer(types.int64),
        "int": types.int64,
        "float": types.float64,
    }
    signature = types.void(*(numba_types[kind] for _, kind in ARGUMENTS))
    for name in ("field", "drive", "jac"):
        if globals_.get(name) is not None:
            globals_[name] = numba.njit(error_model="numpy")(globals_[name])
    dispatcher = numba.njit(
        signature, error_model="numpy", no_cpython_wrapper=True, no_cfunc_wrapper=True
    )(python_function)
    overload = dispatcher.overloads[signature.args]
    inner = overload.fndesc.mangled_name
    llvm = _llvm()
    module = llvm.parse_assembly(dispatcher.inspect_llvm(signature.args))
    entry = ENTRY.format(key=key)
    module = llvm.parse_assembly(str(module) + _entry_ir(entry, inner))
    for function in module.functions:  # what the entry point does not reach is dropped
        if not function.is_declaration and function.name != entry:
            function.linkage = "internal"
    for variable in module.global_variables:
        if not variable.is_declaration:
            variable.linkage = "internal"
    machine = _machine()
    passes = llvm.create_new_module_pass_manager()
    passes.add_global_dead_code_eliminate_pass()
    passes.run(module, llvm.create_pass_builder(machine, llvm.create_pipeline_tuning_options()))
    module.verify()
    return machine.emit_object(module)


def _entry_ir(entry: str, inner: str) -> str:
    """``int32 entry(args)``: numba's calling convention (status, return slot, exception slot)
    behind a C one."""
    params = ", ".join(f"{_LLVM[kind]} %{name}" for name, kind in ARGUMENTS)
    return (
        f"\ndefine i32 @{entry}({params}) {{\n"
        "  %ret = alloca [4 x i64], align 16\n"
        "  %exc = alloca [4 x i64], align 16\n"
        f'  %status = call i32 @"{inner}"(ptr %ret, ptr %exc, {params})\n'
        "  ret i32 %status\n"
        "}\n"
    )


_ENGINE_LOCK = threading.Lock()


def load(objects: bytes, key: str) -> Callable[..., int]:
    """The entry point of ``objects`` as a ctypes function, linked into this process."""
    llvm = _llvm()
    with _ENGINE_LOCK:
        engine = _engine()
        try:
            engine.add_object_file(llvm.ObjectFileRef.from_data(objects))
            engine.finalize_object()
        except RuntimeError as err:
            raise NativeError(f"cannot link the compiled loop: {err}") from None
        address = engine.get_function_address(ENTRY.format(key=key))
    if not address:
        raise NativeError("the compiled loop has no entry point")
    prototype = ctypes.CFUNCTYPE(ctypes.c_int32, *(_CTYPES[kind] for _, kind in ARGUMENTS))
    return prototype(address)


@functools.cache
def _llvm():
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm


@functools.cache
def _machine():
    llvm = _llvm()
    target = host()
    return llvm.Target.from_default_triple().create_target_machine(
        cpu=target.cpu, features=target.features, opt=3
    )


@functools.cache
def _engine():
    """The one execution engine that holds every loaded loop (kept for the process's life)."""
    llvm = _llvm()
    return llvm.create_mcjit_compiler(llvm.parse_assembly(""), _machine())
