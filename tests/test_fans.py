"""The one fan rule: exact values by hand, JAX parity, and the cases JAX rejects."""

import jax
import pytest

import jinit


@pytest.mark.parametrize(
    "shape, axes, expected",
    [
        ((64, 32), {}, (64.0, 32.0)),
        ((3, 3, 16, 32), {}, (144.0, 288.0)),  # conv HWIO: 3*3*16, 3*3*32
        ((5, 3, 3, 16, 32), {}, (720.0, 1440.0)),  # 3-D conv
        ((8, 4, 6), {"in_axis": 0, "out_axis": (1, 2)}, (8.0, 24.0)),
        ((2, 8, 4), {"batch_axis": 0}, (8.0, 4.0)),  # stacked layers
        ((2, 3, 8, 4), {"in_axis": (1, 2), "batch_axis": 0}, (24.0, 4.0)),
        ((4, 5, 6), {"in_axis": -3, "out_axis": 0 + 1}, (24.0, 30.0)),
    ],
)
def test_fans_by_hand(shape, axes, expected):
    assert jinit.compute_fans(shape, **axes) == expected


@pytest.mark.parametrize(
    "shape, axes",
    [
        ((64, 32), {}),
        ((3, 3, 16, 32), {}),
        ((7, 2, 3, 5), {"in_axis": (0, 1), "out_axis": -1}),
        ((2, 8, 4), {"batch_axis": 0}),
        ((4, 5, 6), {"in_axis": 0, "out_axis": 1}),
    ],
)
def test_fans_equal_jax(shape, axes):
    from jax._src.nn.initializers import _compute_fans

    assert jinit.compute_fans(shape, **axes) == _compute_fans(shape, **axes)


def test_small_ranks_and_zero_sizes():
    assert jinit.compute_fans(()) == (1.0, 1.0)
    assert jinit.compute_fans((7,)) == (7.0, 7.0)  # a bias: Keras' and Haiku's rule
    assert jinit.compute_fans((0,)) == (1.0, 1.0)
    assert jinit.compute_fans((0, 5)) == (1.0, 5.0)  # JAX: ZeroDivisionError
    assert jinit.compute_fans((3, 3, 0, 4)) == (1.0, 36.0)


def test_initializers_on_small_ranks_and_empty_shapes():
    key = jax.random.key(0)
    assert jinit.he_normal()(key, ()).shape == ()
    assert jinit.he_normal()(key, (7,)).shape == (7,)
    assert jinit.glorot_uniform()(key, (0, 5)).shape == (0, 5)
    assert jinit.orthogonal()(key, (0, 5)).shape == (0, 5)


@pytest.mark.parametrize(
    "axes, error, match",
    [
        ({"in_axis": 2}, ValueError, "`in_axis` must be an axis in"),
        ({"out_axis": -3}, ValueError, "`out_axis` must be an axis in"),
        ({"in_axis": 0, "out_axis": 0}, ValueError, "must be disjoint"),
        ({"in_axis": (0, 0)}, ValueError, "`in_axis` must be distinct axes"),
        (
            {"batch_axis": "0"},
            TypeError,
            "`batch_axis` must be an int or a sequence of ints",
        ),
        ({"in_axis": 1.0}, TypeError, "`in_axis` must be an int or a sequence"),
    ],
)
def test_bad_axes(axes, error, match):
    """A wrong value is a ValueError, a wrong kind a TypeError (never either)."""
    with pytest.raises(error, match=match) as info:
        jinit.compute_fans((4, 5), **axes)
    assert type(info.value) is error
