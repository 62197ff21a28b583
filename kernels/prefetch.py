"""``prefetch``: a cache hint for the compiled loops that wait on memory (delivery, plasticity).

An LLVM intrinsic, so it costs one instruction and never faults; see ``ticks`` (the delivery
loop's prefetch of the next spike's row) and ``plasticity`` (the targets' spike archives).
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic


@intrinsic
def prefetch(typingctx, arr, idx):  # pragma: no cover - compiled
    """Hint the cache line holding ``arr[idx]`` into all cache levels (LLVM ``llvm.prefetch``).

    Only a hint: it never faults, so ``idx`` past the end of ``arr`` is harmless.
    """
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]],
                                       wraparound=False, boundscheck=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0")
        # read, locality 3 (keep in all levels), data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return types.void(arr, idx), codegen
