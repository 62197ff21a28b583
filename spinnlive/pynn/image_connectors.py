"""sPyNNaker's 2D image connectors: ``KernelConnector``, ``ConvolutionConnector``,
``PoolDenseConnector``, and the ``Convolution``/``PoolDense`` synapse types they take.

On SpiNNaker the last two are "local-only": the board keeps only the kernel and, per incoming
spike, works out on the core which post cells it reaches. spinnlive expands that rule into
ordinary connections when the projection is made, so the engine, ``Projection.get`` and the
live state plane see plain synapses. What each rule is, as sPyNNaker 7.4.1 runs it:

* **Pixel order** (Convolution, PoolDense): a population with a ``Grid2D`` structure has
  sPyNNaker's shape ``(width, height) = structure.calculate_size(n)`` and cell ``i`` sits at
  column ``x = i % width``, row ``y = i // width`` (PACMAN's raster order, dimension 0 fastest).
* **ConvolutionConnector** (the core code ``local_only_conv_impl.c`` of 7.4.1): a pre pixel
  ``(y, x)`` maps to ``post_y = (y // pool_stride_y - kernel_height // 2 + padding_y) //
  stride_y`` (likewise ``x``) and reaches the post cells ``post_y + kr - kernel_height // 2``,
  ``kr = 0 .. kernel_height - 1`` (same for columns) that lie inside the post population, with
  the weight at ``kr * kernel_width + kc`` of the flattened kernel; zero weights make no
  synapse. The kernel's numpy axis 0 is its width (sPyNNaker pairs it with the pre width),
  ``pool_shape`` divides every weight by the pool area, and the divisions are the board's
  16-bit reciprocal divisions (``div_by_const`` with sPyNNaker's constants): exact floor
  division for the non-negative values of an interior pixel; for a pixel whose mapped row or
  column is negative the board's unsigned arithmetic gives what it gives (-1 stays -1 at
  stride 1; at larger strides the result leaves the post grid and the pixel reaches nothing
  there), and spinnlive reproduces it. The post population's shape must be sPyNNaker's
  ``get_post_shape`` of the pre shape; ``padding=True`` is one pixel each side, as 7.4.1
  reads it (a bool is an int there). Even kernel sizes are refused: the core code reads one
  row and column past such a kernel.
* **PoolDenseConnector**: pre pixel ``(x, y)`` pools to ``(x // stride_x, y // stride_y)``
  (dropped when outside the pooled shape ``shape // stride``); it connects to every post cell
  with the weight ``weights[x', y', post]`` of the array reshaped to ``pooled_shape +
  post_shape`` (sPyNNaker's documented layout), divided by the pool area.
* **KernelConnector**: sPyNNaker's host-side generator (``create_synaptic_block``), with its
  ``(height, width)`` shapes, sampling steps and start coordinates, and its unsigned (uint32)
  arithmetic: a post cell that maps before the pre grid's start where the pre sampling step
  is above 1 wraps round and reaches nothing (a signed reading would connect it); negative
  kernel weights go
  to the inhibitory receptor, others to the excitatory one, whatever ``receptor_type`` says,
  as sPyNNaker does. Without a weight (delay) kernel the synapse type's value is used: one
  value, or a RandomDistribution drawn once per kernel position.

Convolution and PoolDense send positive weights to ``positive_receptor_type`` and negative
ones, as magnitudes, to ``negative_receptor_type``; their delay is one value per projection.
sPyNNaker stores the weights as 16-bit fixed point on the board; spinnlive keeps float64.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from pyNN import connectors as pc
from pyNN import errors
from pyNN.random import RandomDistribution
from pyNN.space import Grid2D

from .connectors import Wiring, add_fast_path
from .standardmodels.synapses import StaticSynapse

#: entries of a (pre, post) block of KernelConnector's test, at most
_BLOCK = 1 << 22

__all__ = ["Convolution", "ConvolutionConnector", "KernelConnector", "PoolDense",
           "PoolDenseConnector"]


class Convolution(StaticSynapse):
    """sPyNNaker's local-only convolution synapse type: the weights are the connector's,
    ``delay`` (default one time step) is the projection's one delay."""

    def __init__(self, delay: Any = None) -> None:
        super().__init__(weight=0.0, delay=delay)


class PoolDense(Convolution):
    """sPyNNaker's local-only pool-dense synapse type (see :class:`Convolution`)."""


# -- the board's arithmetic -----------------------------------------------------------------------
def div_constants(divisor: int) -> tuple[int, int, int]:
    """``(m, sh1, sh2)`` of the board's division by a constant (Granlund and Montgomery,
    16-bit multiplier), as sPyNNaker's ``get_div_const`` derives them."""
    if divisor < 1:
        raise errors.ConnectionError(f"a stride must be >= 1, got {divisor}")
    bits = int(np.ceil(np.log2(divisor)))
    m = int(np.floor((1 << 16) * ((1 << bits) - divisor) / divisor)) + 1
    return m, min(bits, 1), max(bits - 1, 0)


def board_divide(values: np.ndarray, divisor: int) -> np.ndarray:
    """What ``lc_dim_t q = div_by_const(v, d)`` leaves in ``q`` for int16 ``values``: the
    value widened to uint32, divided with 32-bit wrap-around, stored back into 16 bits."""
    m, sh1, sh2 = div_constants(divisor)
    mask = np.uint64(0xFFFFFFFF)
    i = np.asarray(values, dtype=np.int64).astype(np.uint64) & mask
    t1 = ((i * np.uint64(m)) & mask) >> np.uint64(16)
    q = ((t1 + (((i - t1) & mask) >> np.uint64(sh1))) & mask) >> np.uint64(sh2)
    return (q & np.uint64(0xFFFF)).astype(np.uint16).view(np.int16).astype(np.int64)


# -- shapes -------------------------------------------------------------------------------------
def _pair(value: Any, what: str) -> np.ndarray | None:
    """sPyNNaker's 2D shape argument: None, one int for both, or a pair."""
    if value is None:
        return None
    if np.ndim(value) == 0:
        return np.array([int(value), int(value)], dtype=np.int64)
    items = tuple(value)
    if len(items) == 1:
        return np.array([int(items[0]), 1], dtype=np.int64)
    if len(items) == 2:
        return np.array([int(v) for v in items], dtype=np.int64)
    raise errors.ConnectionError(f"{what} must be an int or a pair of ints, got {value!r}")


def image_shape(population: Any, connector: str) -> tuple[int, int]:
    """sPyNNaker's ``(width, height)`` of a population laid out as a Grid2D."""
    structure = getattr(population, "structure", None)
    if not isinstance(structure, Grid2D):
        raise errors.ConnectionError(
            f"{connector} needs populations laid out in 2D: give {population.label!r} "
            "structure=Grid2D(aspect_ratio) (as sPyNNaker requires)")
    width, height = structure.calculate_size(population.size)
    return int(width), int(height)


def _uniform_delay(projection: Any, connector: str) -> None:
    delay = projection.synapse_type.parameter_space["delay"]
    if not delay.is_homogeneous:
        raise errors.ConnectionError(
            f"{connector} takes one delay per projection (sPyNNaker's local-only synapses); "
            f"projection {projection.label!r} has varying delays")


def _signed(pre: np.ndarray, post: np.ndarray, values: dict[str, np.ndarray],
            receptors: tuple[str, str], keep_zero: bool = False) -> Wiring:
    """Connections post-major with their ``values`` (``weight``, maybe ``delay``) as
    overrides, the receptor by the weight's sign (positive, negative)."""
    keep = np.ones(pre.size, bool) if keep_zero else values["weight"] != 0
    order = np.lexsort((pre[keep], post[keep]))
    return Wiring(pre[keep][order].astype(np.int64), post[keep][order].astype(np.int64),
                  {name: np.asarray(v, dtype=float)[keep][order] for name, v in values.items()},
                  signed_receptors=receptors)


# -- what the connectors share --------------------------------------------------------------------
class _ImageConnector(pc.Connector):
    """An image connector: spinnlive expands it into connections in ``wire()`` (the fast paths
    added at the end of this module); PyNN's own ``connect`` has no rule for it."""

    def connect(self, projection: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} connects through spinnlive's wire()")


class _Pooling(_ImageConnector):
    """The pooling ConvolutionConnector and PoolDenseConnector share, as sPyNNaker's
    ``get_post_pool_shape`` and core code read ``pool_shape`` and ``pool_stride``."""

    pool_shape: np.ndarray | None
    pool_stride: np.ndarray | None

    def _pooled(self, shape: tuple[int, int]) -> np.ndarray:
        """The pre image's ``(width, height)`` after pooling (unchanged without a pool)."""
        pre = np.array(shape, dtype=np.int64)
        if self.pool_shape is not None and self.pool_stride is not None:
            pre = pre // self.pool_stride
        return pre

    def _pool_steps(self) -> tuple[int, ...]:
        """How many pre pixels, per axis, make one pooled pixel (1 without a ``pool_stride``)."""
        return (1, 1) if self.pool_stride is None else tuple(int(v) for v in self.pool_stride)


# -- ConvolutionConnector -------------------------------------------------------------------------
class ConvolutionConnector(_Pooling):
    """sPyNNaker's ConvolutionConnector (its signature; the rule is the module docstring's)."""

    def __init__(self, kernel_weights: Any, kernel_shape: Any = None, strides: Any = None,
                 padding: Any = None, pool_shape: Any = None, pool_stride: Any = None,
                 positive_receptor_type: str = "excitatory",
                 negative_receptor_type: str = "inhibitory", safe: bool = True,
                 verbose: bool = False, callback: Any = None, filter_edges: bool = True) -> None:
        super().__init__(safe=safe, callback=callback)
        self.kernel_weights = self._kernel(kernel_weights, kernel_shape)
        # sPyNNaker 7.4.1 reads padding=True as the int 1 (a bool is an int), not as the
        # kernel's half size its docstring promises: one pixel each side, whatever the kernel
        pair = _pair(int(padding) if isinstance(padding, bool) else padding, "padding")
        self.padding = np.zeros(2, dtype=np.int64) if pair is None else pair
        self.strides: np.ndarray = _pair(1 if strides is None else strides,
                                         "strides")  # type: ignore[assignment]
        self.pool_shape = _pair(pool_shape, "pool_shape")
        self.pool_stride = _pair(pool_stride, "pool_stride")
        if self.pool_stride is None:
            self.pool_stride = self.pool_shape
        if self.pool_shape is not None:
            self.kernel_weights = self.kernel_weights / float(np.prod(self.pool_shape))
        self.positive_receptor_type = positive_receptor_type
        self.negative_receptor_type = negative_receptor_type

    @staticmethod
    def _kernel(weights: Any, shape: Any) -> np.ndarray:
        def needs_shape() -> tuple[int, int]:
            pair = _pair(shape, "kernel_shape")
            if pair is None:
                raise errors.ConnectionError(
                    "ConvolutionConnector: kernel_shape must be given with these kernel_weights")
            return int(pair[0]), int(pair[1])

        if isinstance(weights, RandomDistribution):
            rows, cols = needs_shape()
            return np.asarray(weights.next(rows * cols), dtype=float).reshape(rows, cols)
        if np.ndim(weights) == 0:
            return np.full(needs_shape(), float(weights))
        array = np.asarray(weights, dtype=float)
        if array.ndim == 2:
            return array
        return array.reshape(needs_shape())

    def get_post_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        """The post population's ``(width, height)`` for a pre image of ``shape``."""
        post = self._pooled(shape) - (np.array(self.kernel_weights.shape) - 1) + 2 * self.padding
        post = np.maximum(post // self.strides, 1)
        return int(post[0]), int(post[1])


def convolution_wiring(connector: ConvolutionConnector, projection: Any) -> Wiring:
    name = "ConvolutionConnector"
    pre_w, pre_h = image_shape(projection.pre, name)
    post_w, post_h = image_shape(projection.post, name)
    expected = connector.get_post_shape((pre_w, pre_h))
    if expected != (post_w, post_h):
        raise errors.ConnectionError(
            f"{name}: with a pre population of shape {(pre_w, pre_h)} the post population "
            f"must have shape {expected} (sPyNNaker's rule), not {(post_w, post_h)}")
    _uniform_delay(projection, name)
    k_width, k_height = connector.kernel_weights.shape
    if k_width % 2 == 0 or k_height % 2 == 0:
        raise errors.ConnectionError(
            f"{name}: kernel shape {connector.kernel_weights.shape} has an even side; "
            "sPyNNaker's core code reads past such a kernel, so spinnlive takes odd sizes only")
    pool = connector._pool_steps()
    pre = np.arange(projection.pre.size, dtype=np.int64)
    col, row = pre % pre_w, pre // pre_w
    half_w, half_h = k_width // 2, k_height // 2
    base_row = board_divide(board_divide(row, pool[1]) - half_h + connector.padding[1],
                            int(connector.strides[1]))
    base_col = board_divide(board_divide(col, pool[0]) - half_w + connector.padding[0],
                            int(connector.strides[0]))
    grid_r, grid_c = np.meshgrid(np.arange(k_height), np.arange(k_width), indexing="ij")
    kr, kc = grid_r.ravel(), grid_c.ravel()
    post_row = base_row[:, None] + kr[None, :] - half_h
    post_col = base_col[:, None] + kc[None, :] - half_w
    inside = (post_row >= 0) & (post_row < post_h) & (post_col >= 0) & (post_col < post_w)
    flat = connector.kernel_weights.ravel()
    weights = np.broadcast_to(flat[kr * k_width + kc][None, :], inside.shape)[inside]
    pres = np.broadcast_to(pre[:, None], inside.shape)[inside]
    posts = (post_row * post_w + post_col)[inside]
    return _signed(pres, posts, {"weight": weights},
                   (connector.positive_receptor_type, connector.negative_receptor_type))


# -- PoolDenseConnector ---------------------------------------------------------------------------
class PoolDenseConnector(_Pooling):
    """sPyNNaker's PoolDenseConnector (its signature; the rule is the module docstring's)."""

    def __init__(self, weights: Any, pool_shape: Any = None, pool_stride: Any = None,
                 positive_receptor_type: str = "excitatory",
                 negative_receptor_type: str = "inhibitory", safe: bool = True,
                 verbose: bool = False, callback: Any = None) -> None:
        super().__init__(safe=safe, callback=callback)
        self.weights = weights if isinstance(weights, RandomDistribution) else np.array(weights)
        self.pool_shape = _pair(pool_shape, "pool_shape")
        self.pool_stride = self.pool_shape if pool_stride is None else _pair(pool_stride,
                                                                              "pool_stride")
        self.positive_receptor_type = positive_receptor_type
        self.negative_receptor_type = negative_receptor_type

    def pooled_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        """The pre image's shape after pooling (sPyNNaker's ``get_post_pool_shape``)."""
        pre = self._pooled(shape)
        return int(pre[0]), int(pre[1])


def pool_dense_wiring(connector: PoolDenseConnector, projection: Any) -> Wiring:
    name = "PoolDenseConnector"
    pre_w, pre_h = image_shape(projection.pre, name)
    _uniform_delay(projection, name)
    pooled_w, pooled_h = connector.pooled_shape((pre_w, pre_h))
    n_post = projection.post.size
    n_weights = pooled_w * pooled_h * n_post
    if isinstance(connector.weights, RandomDistribution):
        table = np.asarray(connector.weights.next(n_weights), dtype=float)
    elif connector.weights.ndim == 0:
        table = np.full(n_weights, float(connector.weights))
    elif connector.weights.size != n_weights:
        raise errors.ConnectionError(
            f"{name}: with a pre population of shape {(pre_w, pre_h)} and {n_post} post "
            f"cells this connector needs {n_weights} weights, got {connector.weights.size}")
    else:
        table = connector.weights.astype(float).ravel()
    if connector.pool_shape is not None:
        table = table / float(np.prod(connector.pool_shape))
    table = table.reshape(pooled_w, pooled_h, n_post)
    stride = connector._pool_steps()
    pre = np.arange(projection.pre.size, dtype=np.int64)
    px, py = (pre % pre_w) // stride[0], (pre // pre_w) // stride[1]
    pooled = (px < pooled_w) & (py < pooled_h)
    pre, px, py = pre[pooled], px[pooled], py[pooled]
    weights = table[px, py, :]  # (pre, post)
    pres = np.repeat(pre, n_post)
    posts = np.tile(np.arange(n_post, dtype=np.int64), pre.size)
    return _signed(pres, posts, {"weight": weights.ravel()},
                   (connector.positive_receptor_type, connector.negative_receptor_type))


# -- KernelConnector ------------------------------------------------------------------------------
class KernelConnector(_ImageConnector):
    """sPyNNaker's KernelConnector: shapes are ``(height, width)``; the rule is its host-side
    generator's (module docstring)."""

    def __init__(self, shape_pre: Any, shape_post: Any, shape_kernel: Any,
                 weight_kernel: Any = None, delay_kernel: Any = None, shape_common: Any = None,
                 pre_sample_steps_in_post: Any = None, pre_start_coords_in_post: Any = None,
                 post_sample_steps_in_pre: Any = None, post_start_coords_in_pre: Any = None,
                 safe: bool = True, space: Any = None, verbose: bool = False,
                 callback: Any = None) -> None:
        super().__init__(safe=safe, callback=callback)
        if space is not None:
            raise errors.ConnectionError("KernelConnector: space must be None (sPyNNaker's)")
        self.shape_pre = _pair(shape_pre, "shape_pre")
        self.shape_post = _pair(shape_post, "shape_post")
        self.shape_kernel = _pair(shape_kernel, "shape_kernel")
        self.pre_step = _pair(pre_sample_steps_in_post or 1, "pre_sample_steps_in_post")
        self.pre_start = _pair(pre_start_coords_in_post or 0, "pre_start_coords_in_post")
        self.post_step = _pair(post_sample_steps_in_pre or 1, "post_sample_steps_in_pre")
        self.post_start = _pair(post_start_coords_in_pre or 0, "post_start_coords_in_pre")
        self.weight_kernel = self._values(weight_kernel, "weight_kernel")
        self.delay_kernel = self._values(delay_kernel, "delay_kernel")

    def _values(self, values: Any, what: str) -> np.ndarray | None:
        """A kernel-shaped array from a kernel, one value or a RandomDistribution."""
        if values is None:
            return None
        shape = (int(self.shape_kernel[0]), int(self.shape_kernel[1]))  # type: ignore[index]
        if isinstance(values, RandomDistribution):
            return np.asarray(values.next(shape[0] * shape[1]), dtype=float).reshape(shape)
        array = np.asarray(values, dtype=float)
        if array.ndim == 0:
            return np.full(shape, float(array))
        if array.shape != shape:
            raise errors.ConnectionError(
                f"KernelConnector: {what} has shape {array.shape}, the kernel is {shape} "
                "(height, width)")
        return array


def _synapse_kernel(connector: KernelConnector, projection: Any, name: str) -> np.ndarray:
    """sPyNNaker's fallback: the synapse type's weight/delay made into a kernel."""
    larr = projection.synapse_type.parameter_space[name]
    value = larr.base_value
    if isinstance(value, RandomDistribution) or (larr.is_homogeneous and not larr.operations):
        if not isinstance(value, RandomDistribution):
            one = copy.copy(larr)
            one.shape = (1,)
            value = float(one.evaluate(simplify=True))
        kernel = connector._values(value, name)
        assert kernel is not None
        return kernel
    raise errors.ConnectionError(
        f"KernelConnector: without a {name} kernel the synapse's {name} must be one value or "
        "a RandomDistribution (sPyNNaker makes a kernel of it)")


_WRAP = 1 << 32


def _uint32(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int64) % _WRAP


def kernel_wiring(connector: KernelConnector, projection: Any) -> Wiring:
    weights = connector.weight_kernel
    if weights is None:
        weights = _synapse_kernel(connector, projection, "weight")
    delays = connector.delay_kernel
    if delays is None:
        delays = _synapse_kernel(connector, projection, "delay")
    k_h, k_w = (int(v) for v in connector.shape_kernel)  # type: ignore[union-attr]
    pre_w, post_w = int(connector.shape_pre[1]), int(connector.shape_post[1])  # type: ignore[index]
    step_r, step_c = (int(v) for v in connector.pre_step)  # type: ignore[union-attr]
    start_r, start_c = (int(v) for v in connector.pre_start)  # type: ignore[union-attr]
    post_step_r, post_step_c = (int(v) for v in connector.post_step)  # type: ignore[union-attr]
    post_start_r, post_start_c = (int(v) for v in connector.post_start)  # type: ignore[union-attr]
    pre = np.arange(projection.pre.size, dtype=np.int64)
    pre_r, pre_c = pre // pre_w, pre % pre_w
    sampled = ((pre_r - start_r) % step_r == 0) & ((pre_c - start_c) % step_c == 0)
    pre, pre_r, pre_c = pre[sampled], pre_r[sampled], pre_c[sampled]
    n_post = projection.post.size
    empty = np.zeros(0, dtype=np.int64)
    pres, posts, krs, kcs = [empty], [empty], [empty], [empty]
    for lo in range(0, n_post, max(1, _BLOCK // max(1, pre.size))):
        post = np.arange(lo, min(n_post, lo + max(1, _BLOCK // max(1, pre.size))))
        # the post cell in the common frame, then in the pre population's sampled grid, in
        # the generator's uint32 arithmetic (a wrapped value reaches no kernel position)
        as_pre_r = _uint32((post_start_r + (post // post_w) * post_step_r - start_r - 1)
                           % _WRAP // step_r + 1)
        as_pre_c = _uint32((post_start_c + (post % post_w) * post_step_c - start_c - 1)
                           % _WRAP // step_c + 1)
        kr = _uint32(k_h // 2 - as_pre_r[None, :] + pre_r[:, None])
        kc = _uint32(k_w // 2 - as_pre_c[None, :] + pre_c[:, None])
        i, j = np.nonzero((kr < k_h) & (kc < k_w))
        pres.append(pre[i])
        posts.append(post[j])
        krs.append(kr[i, j])
        kcs.append(kc[i, j])
    kr_all, kc_all = np.concatenate(krs), np.concatenate(kcs)
    return _signed(np.concatenate(pres), np.concatenate(posts),
                   {"weight": weights[kr_all, kc_all], "delay": delays[kr_all, kc_all]},
                   ("excitatory", "inhibitory"), keep_zero=True)


add_fast_path(ConvolutionConnector, convolution_wiring)
add_fast_path(PoolDenseConnector, pool_dense_wiring)
add_fast_path(KernelConnector, kernel_wiring)
