"""Layer widths from a base width and a schedule (SCIENCE.md §1)."""

from __future__ import annotations

import pytest

from ntk_eoc import widths


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("quadratic", [16, 8, 32, 72, 2]),  # m_k = k^2 m
        ("linear", [16, 8, 16, 24, 2]),  # m_k = k m
        ("constant", [16, 8, 8, 8, 2]),  # m_k = m
    ],
)
def test_schedule_gives_the_stated_hidden_widths(schedule, expected):
    assert widths(schedule, 8, 4, input_dim=16, output_dim=2) == expected


def test_explicit_schedule_lists_the_hidden_widths_and_ignores_base_width():
    assert widths([5, 3], None, 3, input_dim=4, output_dim=1) == [4, 5, 3, 1]


def test_depth_one_is_the_linear_model_with_no_hidden_layer():
    assert widths("quadratic", 8, 1, input_dim=16, output_dim=3) == [16, 3]


@pytest.mark.parametrize(
    ("base_width", "match"),
    [(0, r"base_width=0"), (-3, r"base_width=-3"), (2.5, r"base_width=2.5"), ("8", r"base_width='8'"), (None, "None")],
)
def test_bad_base_width_raises_naming_it(base_width, match):
    with pytest.raises(ValueError, match=match):
        widths("quadratic", base_width, 3, input_dim=4)


@pytest.mark.parametrize("depth", [0, -1, 1.5, True])
def test_bad_depth_raises_naming_it(depth):
    with pytest.raises(ValueError, match=rf"widths: depth={depth!r}: must be an integer with 1 <= value <= 1000000"):
        widths("constant", 8, depth, input_dim=4)


@pytest.mark.parametrize(("key", "kwargs"), [("input_dim", {"input_dim": 0}), ("output_dim", {"output_dim": -2})])
def test_bad_input_or_output_dim_raises_naming_it(key, kwargs):
    call = {"input_dim": 4, **kwargs}
    with pytest.raises(ValueError, match=rf"{key}={kwargs[key]}"):
        widths("constant", 8, 3, **call)


def test_unknown_schedule_raises_naming_it():
    with pytest.raises(ValueError, match=r"schedule='cubic': unknown"):
        widths("cubic", 8, 3, input_dim=4)


@pytest.mark.parametrize("hidden", [[5], [5, 3, 2]])
def test_explicit_schedule_of_wrong_length_raises_naming_the_list(hidden):
    with pytest.raises(ValueError, match=rf"2 hidden widths of a depth-3 network, got {len(hidden)}"):
        widths(hidden, None, 3, input_dim=4)


def test_explicit_schedule_with_a_non_positive_width_raises_naming_its_position():
    with pytest.raises(ValueError, match=r"schedule\[1\]=0"):
        widths([5, 0], None, 3, input_dim=4)


def test_widths_do_not_cap_memory_the_sampler_does():
    assert widths("constant", 10**6, 2, input_dim=4) == [4, 10**6, 1]


@pytest.mark.parametrize(
    ("section", "depth", "expected"),
    [
        ({"name": "quadratic"}, 2, "constant"),  # m_1 = m for every schedule
        ({"name": "linear"}, 2, "constant"),
        ({"name": "quadratic"}, 3, "quadratic"),
        ({"name": "explicit", "factors": [1, 1]}, 3, "constant"),
        ({"name": "explicit", "factors": [1, 2, 3]}, 4, "linear"),
        ({"name": "explicit", "factors": [2, 1]}, 3, "explicit"),
    ],
)
def test_a_schedule_is_named_by_the_widths_it_gives(section, depth, expected):
    from ntk_eoc.math.schedules import WidthSchedule

    schedule = WidthSchedule.from_config(section, depth)
    canonical = schedule.canonical(depth)
    assert str(canonical.name) == expected
    for m in (3, 8):  # the same network at every base width
        assert canonical.widths(m, depth, 5, 2) == schedule.widths(m, depth, 5, 2)
