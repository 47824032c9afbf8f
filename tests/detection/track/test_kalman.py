import numpy as np

from detection.track.kalman import KalmanFilterXYAH, xyah_to_xyxy, xyxy_to_xyah


def test_box_conversion_round_trip() -> None:
    boxes = np.array([[10, 20, 50, 100], [0, 0, 4, 2]], np.float64)
    np.testing.assert_allclose(xyxy_to_xyah(boxes)[0], [30, 60, 0.5, 80])
    np.testing.assert_allclose(xyah_to_xyxy(xyxy_to_xyah(boxes)), boxes)


def test_learns_constant_velocity() -> None:
    """After a few updates of a box moving 5 px/frame, the prediction leads the last measurement."""
    kf = KalmanFilterXYAH()
    mean, cov = kf.initiate(np.array([100.0, 100.0, 0.5, 80.0]))
    for step in range(1, 20):
        m, c = kf.predict(mean[None], cov[None])
        mean, cov = kf.update(m[0], c[0], np.array([100.0 + 5 * step, 100.0, 0.5, 80.0]))
    predicted, _ = kf.predict(mean[None], cov[None])
    assert abs(predicted[0, 4] - 5.0) < 0.5  # vx
    assert abs(predicted[0, 0] - (100 + 5 * 20)) < 2.0
    assert abs(predicted[0, 1] - 100.0) < 1.0


def test_uncertainty_grows_without_measurements() -> None:
    kf = KalmanFilterXYAH()
    mean, cov = kf.initiate(np.array([0.0, 0.0, 1.0, 50.0]))
    m, c = mean[None], cov[None]
    variances = []
    for _ in range(3):
        m, c = kf.predict(m, c)
        variances.append(c[0, 0, 0])
    assert variances[0] < variances[1] < variances[2]
