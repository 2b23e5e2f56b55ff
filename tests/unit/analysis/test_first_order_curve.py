"""The predicted concentration curve: model draws at base width 1 scaled to every base width."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ntk_eoc.analysis.first_order_curve import PREDICTION_BOOT, predicted_name, predicted_summary


def test_statistics_scale_as_one_over_root_m_and_the_tail_is_the_one_minus_one_over_m_quantile():
    unit = np.random.default_rng(4).gamma(4.0, size=1000)
    store = xr.Dataset({"op_rel": ("model_draw", unit)})
    out = predicted_summary(store, [4, 16, 2000], ["op_rel"], seed=0, confidence=0.9)
    pred = out[predicted_name("op_rel")]
    assert pred.dims == ("base_width", "statistic", "bound") and PREDICTION_BOOT >= 100
    np.testing.assert_allclose(pred.sel(statistic="mean", bound="value"), unit.mean() / np.sqrt([4, 16, 2000]))
    np.testing.assert_allclose(pred.sel(base_width=16, statistic="tail", bound="value"), np.quantile(unit, 15 / 16) / 4)
    np.testing.assert_allclose(pred.sel(base_width=4, statistic="median", bound="value"), np.median(unit) / 2)
    low, high = pred.sel(base_width=4, statistic="mean", bound=["ci_low", "ci_high"]).values
    se = unit.std() / np.sqrt(unit.size) / 2
    assert low < unit.mean() / 2 < high and 2 * se < high - low < 5 * se  # ~3.3 se wide at 90%
    assert out.tail_resolved.values.tolist() == [True, True, False]  # 1000 draws resolve q(1 - 1/m) for m <= 1000
