"""sPyNNaker's image connectors on spinnlive, checked against sPyNNaker 7.4.1's own code where
the installed package has it (KernelConnector's host generator, the shapes, kernels and
division constants the convolution and pool-dense cores are given) and otherwise against the
rule its core code applies, computed here from the post side, one post cell at a time."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from pyNN import errors
from scipy.signal import convolve2d

import spinnlive.pynn as sim
from spinnlive.errors import ConfigurationError
from spinnlive.pynn.image_connectors import board_divide, div_constants


@pytest.fixture
def net() -> Any:
    sim.setup(timestep=1.0)
    yield sim
    sim.end()


def _image(n: int, label: str, aspect: float = 1.0, times: Any = None) -> Any:
    cell = sim.SpikeSourceArray(spike_times=times if times is not None else [[]] * n)
    return sim.Population(n, cell, structure=sim.Grid2D(aspect), label=label)


def _cells(n: int, label: str, aspect: float | None = 1.0) -> Any:
    structure = None if aspect is None else sim.Grid2D(aspect)
    return sim.Population(n, sim.IF_curr_exp(), structure=structure, label=label)


def _signed_matrix(prj: Any) -> np.ndarray:
    """(pre, post) summed signed weights: a negative receptor's magnitudes count negative."""
    out = np.zeros(prj.shape)
    signs = np.where(prj._receptors == "inhibitory", -1.0, 1.0)
    np.add.at(out, (prj._pre, prj._post), signs * np.abs(prj._values["weight"]))
    return out


# -- the board's division ---------------------------------------------------------------------
def test_division_constants_are_spynnakers() -> None:
    common = pytest.importorskip("spynnaker.pyNN.models.common.local_only_2d_common")
    for divisor in range(1, 40):
        m, sh1, sh2 = div_constants(divisor)
        assert common.get_div_const(divisor) == (sh2 << 24) + (sh1 << 16) + m, divisor


def test_board_division_floors_what_an_interior_pixel_gives() -> None:
    values = np.arange(0, 2000)
    for divisor in (1, 2, 3, 5, 7, 8):
        assert np.array_equal(board_divide(values, divisor), values // divisor)
    # the unsigned arithmetic of a negative mapped row: exact at stride 1, off the grid above
    assert np.array_equal(board_divide(np.array([-1, -2]), 1), [-1, -2])
    assert board_divide(np.array([-1]), 2)[0] == 32767


# -- KernelConnector against sPyNNaker's host-side generator ------------------------------------
def _spynnaker_kernel_block(kwargs: dict[str, Any], n_pre: int, n_post: int) -> np.ndarray:
    connectors = pytest.importorskip(
        "spynnaker.pyNN.models.neural_projections.connectors.kernel_connector")
    from pacman.model.graphs.common import Slice

    ref = connectors.KernelConnector(**kwargs)
    info = SimpleNamespace(weights=None, delays=None, n_pre_neurons=n_pre)
    return ref.create_synaptic_block([], Slice(0, n_post - 1), 0, info)


@pytest.mark.parametrize("case", [
    {"shape_pre": (6, 6), "shape_post": (6, 6), "shape_kernel": (3, 3)},
    {"shape_pre": (8, 10), "shape_post": (4, 5), "shape_kernel": (3, 5),
     "post_sample_steps_in_pre": (2, 2)},
    {"shape_pre": (9, 7), "shape_post": (5, 3), "shape_kernel": (5, 3),
     "pre_sample_steps_in_post": (2, 1), "pre_start_coords_in_post": (1, 0),
     "post_start_coords_in_pre": (1, 2)},
    {"shape_pre": (5, 8), "shape_post": (7, 4), "shape_kernel": (4, 2),
     "post_sample_steps_in_pre": (1, 2), "post_start_coords_in_pre": (0, 1)},
])
def test_kernel_connector_makes_spynnakers_connections(net: Any, case: dict[str, Any]) -> None:
    rng = np.random.default_rng(7)
    kh, kw = case["shape_kernel"]
    weights = np.round(rng.uniform(-2, 2, (kh, kw)), 3)
    delays = rng.integers(1, 6, (kh, kw)).astype(float)
    kwargs = {**case, "weight_kernel": weights, "delay_kernel": delays}
    n_pre = case["shape_pre"][0] * case["shape_pre"][1]
    n_post = case["shape_post"][0] * case["shape_post"][1]
    block = _spynnaker_kernel_block(kwargs, n_pre, n_post)
    pre = _image(n_pre, "pre")
    post = _cells(n_post, "post", aspect=None)
    prj = sim.Projection(pre, post, sim.KernelConnector(**kwargs), sim.StaticSynapse())
    ours = sorted(zip(prj._pre.tolist(), prj._post.tolist(), prj._values["weight"].tolist(),
                      prj._values["delay"].tolist(), (prj._receptors == "inhibitory").tolist()))
    theirs = sorted(zip(block["source"].tolist(), block["target"].tolist(),
                        block["weight"].tolist(), block["delay"].tolist(),
                        block["synapse_type"].astype(bool).tolist()))
    assert len(ours) == len(theirs) > 0
    assert ours == theirs


def test_kernel_connector_without_kernels_takes_the_synapse_values(net: Any) -> None:
    pre, post = _image(16, "pre"), _cells(16, "post", aspect=None)
    prj = sim.Projection(pre, post, sim.KernelConnector((4, 4), (4, 4), (3, 3)),
                         sim.StaticSynapse(weight=0.5, delay=2.0))
    block = _spynnaker_kernel_block(
        {"shape_pre": (4, 4), "shape_post": (4, 4), "shape_kernel": (3, 3),
         "weight_kernel": 0.5, "delay_kernel": 2.0}, 16, 16)
    assert len(prj) == block.size
    assert np.all(prj._values["weight"] == 0.5) and np.all(prj._values["delay"] == 2.0)


# -- ConvolutionConnector -----------------------------------------------------------------------
def _spynnaker_convolution(**kwargs: Any) -> Any:
    connectors = pytest.importorskip(
        "spynnaker.pyNN.models.neural_projections.connectors.convolution_connector")
    return connectors.ConvolutionConnector(**kwargs)


def _convolution_reference(kernel: np.ndarray, pre_shape: tuple[int, int],
                           post_shape: tuple[int, int], padding: np.ndarray,
                           strides: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """(pre, post) weights of the core's rule, found from each post cell: pre pixel (y, x)
    reaches post (py, px) when its mapped row plus kernel row offset kr - h lands on py."""
    k_w, k_h = kernel.shape
    flat = kernel.ravel()
    pre_w, pre_h = pre_shape
    post_w, post_h = post_shape
    out = np.zeros((pre_w * pre_h, post_w * post_h))
    ys, xs = np.divmod(np.arange(pre_w * pre_h), pre_w)
    rows = board_divide(ys // pool[1] - k_h // 2 + padding[1], int(strides[1]))
    cols = board_divide(xs // pool[0] - k_w // 2 + padding[0], int(strides[0]))
    for py in range(post_h):
        for px in range(post_w):
            for kr in range(k_h):
                for kc in range(k_w):
                    hit = (rows + kr - k_h // 2 == py) & (cols + kc - k_w // 2 == px)
                    out[hit, py * post_w + px] += flat[kr * k_w + kc]
    return out


@pytest.mark.parametrize("case", [
    {"pre": (7, 7), "kernel": (3, 3), "padding": True},
    {"pre": (8, 6), "kernel": (3, 5)},
    {"pre": (9, 9), "kernel": (3, 3), "strides": 2, "padding": 1},
    {"pre": (12, 10), "kernel": (3, 3), "strides": (3, 2), "padding": (1, 0)},
    {"pre": (12, 12), "kernel": (5, 3), "pool_shape": 2, "padding": True},
    {"pre": (10, 8), "kernel": (3, 3), "pool_shape": (2, 2), "pool_stride": (2, 1)},
])
def test_convolution_connector_follows_spynnakers_rule(net: Any, case: dict[str, Any]) -> None:
    rng = np.random.default_rng(3)
    kernel = np.round(rng.uniform(-1, 1, case["kernel"]), 3)
    kernel[0, 0] = 0.0  # a zero weight makes no synapse
    options = {k: case[k] for k in ("strides", "padding", "pool_shape", "pool_stride")
               if k in case}
    ref = _spynnaker_convolution(kernel_weights=kernel.copy(), **options)
    ours = sim.ConvolutionConnector(kernel.copy(), **options)
    pre_shape = case["pre"]
    post_shape = ours.get_post_shape(pre_shape)
    assert post_shape == tuple(ref.get_post_shape(pre_shape))
    assert np.array_equal(ours.kernel_weights, ref.kernel_weights)
    pre = _image(pre_shape[0] * pre_shape[1], "pre", pre_shape[0] / pre_shape[1])
    post = _cells(post_shape[0] * post_shape[1], "post", post_shape[0] / post_shape[1])
    prj = sim.Projection(pre, post, ours, sim.Convolution(delay=2.0))
    expected = _convolution_reference(
        ref.kernel_weights, pre_shape, post_shape, ours.padding, ours.strides,
        ours.pool_stride if ours.pool_stride is not None else np.ones(2, np.int64))
    assert np.count_nonzero(expected) > 0
    assert np.allclose(_signed_matrix(prj), expected)
    assert np.all(prj._values["delay"] == 2.0)
    assert not np.any(prj._values["weight"] == 0)


def test_padded_unit_stride_convolution_is_a_2d_convolution(net: Any) -> None:
    rng = np.random.default_rng(5)
    kernel = rng.uniform(-1, 1, (3, 3))
    image = rng.uniform(0, 1, (6, 6))  # [row, column]
    pre, post = _image(36, "pre"), _cells(36, "post")
    prj = sim.Projection(pre, post, sim.ConvolutionConnector(kernel, padding=True),
                         sim.Convolution())
    drive = image.ravel() @ _signed_matrix(prj)
    assert np.allclose(drive.reshape(6, 6), convolve2d(image, kernel, mode="same"))


def test_convolution_delivers_each_sign_to_its_receptor(net: Any) -> None:
    kernel = np.array([[0.1, 0.2, 0.3], [0.4, -0.5, 0.6], [0.7, 0.8, -0.9]])
    times = [[] for _ in range(25)]
    times[12] = [1.0]  # the centre pixel of a 5 x 5 image spikes once
    pre = _image(25, "pre", times=times)
    post = _cells(25, "post")
    sim.Projection(pre, post, sim.ConvolutionConnector(kernel, padding=True),
                   sim.Convolution(delay=1.0))
    post.record(["gsyn_exc", "gsyn_inh"])
    sim.run(5.0)
    data = post.get_data().segments[0]
    exc = np.asarray(data.filter(name="gsyn_exc")[0]).max(axis=0)
    inh = np.asarray(data.filter(name="gsyn_inh")[0]).min(axis=0)
    around = np.zeros((5, 5))
    around[1:4, 1:4] = kernel  # a pixel's spike reaches the kernel laid round its own place
    assert np.allclose(exc.reshape(5, 5), np.clip(around, 0, None))
    assert np.allclose(inh.reshape(5, 5), np.clip(around, None, 0))


@pytest.mark.parametrize(("make", "message"), [
    (lambda: sim.ConvolutionConnector(np.ones((2, 2))), "even side"),
    (lambda: sim.ConvolutionConnector(np.ones((3, 3)), padding=True), "must have shape"),
])
def test_convolution_refusals_name_the_problem(net: Any, make: Any, message: str) -> None:
    pre, post = _image(25, "pre"), _cells(16, "post")
    with pytest.raises(errors.ConnectionError, match=message):
        sim.Projection(pre, post, make(), sim.Convolution())


def test_image_connectors_need_a_grid(net: Any) -> None:
    pre, post = _image(9, "pre"), _cells(9, "post", aspect=None)
    with pytest.raises(errors.ConnectionError, match="Grid2D"):
        sim.Projection(pre, post, sim.ConvolutionConnector(np.ones((3, 3)), padding=True),
                       sim.Convolution())


def test_convolution_takes_one_delay(net: Any) -> None:
    pre, post = _image(9, "pre"), _cells(9, "post")
    with pytest.raises(errors.ConnectionError, match="one delay"):
        sim.Projection(pre, post, sim.ConvolutionConnector(np.ones((3, 3)), padding=True),
                       sim.StaticSynapse(delay=sim.RandomDistribution("uniform", (1, 3))))


# -- PoolDenseConnector -------------------------------------------------------------------------
@pytest.mark.parametrize(("pre_shape", "pool", "stride"), [
    ((6, 4), None, None), ((6, 4), 2, None), ((7, 5), (2, 3), None), ((8, 6), 2, (3, 2)),
])
def test_pool_dense_follows_spynnakers_layout(net: Any, pre_shape: tuple[int, int],
                                              pool: Any, stride: Any) -> None:
    dense = pytest.importorskip(
        "spynnaker.pyNN.models.neural_projections.connectors.pool_dense_connector")
    pooled = tuple(int(v) for v in dense.PoolDenseConnector.get_post_pool_shape(
        pre_shape, pool, stride))
    n_post = 3
    rng = np.random.default_rng(11)
    weights = np.round(rng.uniform(-1, 1, (*pooled, n_post)), 3)
    ours = sim.PoolDenseConnector(weights, pool_shape=pool, pool_stride=stride)
    assert ours.pooled_shape(pre_shape) == pooled
    pre = _image(pre_shape[0] * pre_shape[1], "pre", pre_shape[0] / pre_shape[1])
    post = _cells(n_post, "post", aspect=None)
    prj = sim.Projection(pre, post, ours, sim.PoolDense())
    area = 1.0 if pool is None else float(np.prod(np.broadcast_to(pool, 2)))
    step = np.broadcast_to(1 if stride is None and pool is None else
                           (pool if stride is None else stride), 2)
    expected = np.zeros(prj.shape)
    for i in range(prj.shape[0]):
        x, y = (i % pre_shape[0]) // step[0], (i // pre_shape[0]) // step[1]
        if x < pooled[0] and y < pooled[1]:
            expected[i] = weights[x, y] / area
    assert np.allclose(_signed_matrix(prj), expected)


def test_pool_dense_counts_its_weights(net: Any) -> None:
    pre, post = _image(25, "pre"), _cells(4, "post", aspect=None)
    with pytest.raises(errors.ConnectionError, match="needs 16 weights"):
        sim.Projection(pre, post, sim.PoolDenseConnector(np.ones(36), pool_shape=2),
                       sim.PoolDense())


def test_a_set_keeps_the_signs_that_chose_the_receptors(net: Any) -> None:
    kernel = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [0.7, 0.8, 0.9]])
    pre, post = _image(9, "pre"), _cells(9, "post")
    prj = sim.Projection(pre, post, sim.ConvolutionConnector(kernel, padding=True),
                         sim.Convolution())
    before = _signed_matrix(prj)
    prj.set(weight=prj.get("weight", format="array") * 2.0)  # magnitudes may change
    assert np.allclose(_signed_matrix(prj), 2.0 * before)
    with pytest.raises(ConfigurationError, match="not signs"):
        prj.set(weight=1.0)
