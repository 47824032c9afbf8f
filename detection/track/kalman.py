"""Constant-velocity Kalman filter on box state (cx, cy, aspect, h) and their velocities.

The formulation is DeepSORT/ByteTrack's: noise scales with the box height, so the filter behaves the
same for near (large) and far (small) objects without per-camera tuning.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

_NDIM = 4
# Process and measurement noise, relative to the box height (DeepSORT's values).
_STD_POSITION = 1.0 / 20
_STD_VELOCITY = 1.0 / 160
_STD_ASPECT = 1e-2
_STD_ASPECT_VELOCITY = 1e-5
_STD_ASPECT_MEASURED = 1e-1


def xyxy_to_xyah(xyxy: npt.ArrayLike) -> F64:
    """Boxes (N, 4) x1y1x2y2 → (N, 4) centre x, centre y, aspect w/h, height."""
    b = np.asarray(xyxy, np.float64).reshape(-1, 4)
    w = b[:, 2] - b[:, 0]
    h = np.maximum(b[:, 3] - b[:, 1], 1e-6)
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, w / h, h], axis=1)


def xyah_to_xyxy(xyah: npt.ArrayLike) -> F64:
    """Inverse of :func:`xyxy_to_xyah`."""
    s = np.asarray(xyah, np.float64).reshape(-1, 4)
    half_w = s[:, 2] * s[:, 3] / 2
    half_h = s[:, 3] / 2
    return np.stack([s[:, 0] - half_w, s[:, 1] - half_h, s[:, 0] + half_w, s[:, 1] + half_h], 1)


class KalmanFilterXYAH:
    """Kalman filter with an 8-D state: (cx, cy, a, h) and their per-frame velocities."""

    def __init__(self) -> None:
        self._motion = np.eye(2 * _NDIM)
        self._motion[:_NDIM, _NDIM:] = np.eye(_NDIM)
        self._observe = np.eye(_NDIM, 2 * _NDIM)

    def initiate(self, measurement: F64) -> tuple[F64, F64]:
        """State of a new track from one (cx, cy, a, h) measurement: zero velocity, wide spread."""
        h = measurement[3]
        mean = np.concatenate([measurement, np.zeros(_NDIM)])
        std = np.array(
            [
                2 * _STD_POSITION * h,
                2 * _STD_POSITION * h,
                _STD_ASPECT,
                2 * _STD_POSITION * h,
                10 * _STD_VELOCITY * h,
                10 * _STD_VELOCITY * h,
                _STD_ASPECT_VELOCITY,
                10 * _STD_VELOCITY * h,
            ]
        )
        return mean, np.diag(np.square(std))

    def predict(self, mean: F64, covariance: F64) -> tuple[F64, F64]:
        """Advance a batch of states (N, 8) and covariances (N, 8, 8) by one frame."""
        h = mean[:, 3]
        ones = np.ones_like(h)
        std = np.stack(
            [
                _STD_POSITION * h,
                _STD_POSITION * h,
                _STD_ASPECT * ones,
                _STD_POSITION * h,
                _STD_VELOCITY * h,
                _STD_VELOCITY * h,
                _STD_ASPECT_VELOCITY * ones,
                _STD_VELOCITY * h,
            ],
            axis=1,
        )
        noise = np.zeros_like(covariance)
        idx = np.arange(2 * _NDIM)
        noise[:, idx, idx] = np.square(std)
        mean = mean @ self._motion.T
        covariance = self._motion @ covariance @ self._motion.T + noise
        return mean, covariance

    def update(self, mean: F64, covariance: F64, measurement: F64) -> tuple[F64, F64]:
        """Correct one state (8,) and covariance (8, 8) with a (cx, cy, a, h) measurement."""
        h = mean[3]
        std = np.array(
            [_STD_POSITION * h, _STD_POSITION * h, _STD_ASPECT_MEASURED, _STD_POSITION * h]
        )
        projected_mean = self._observe @ mean
        projected_cov = self._observe @ covariance @ self._observe.T + np.diag(np.square(std))
        gain = np.linalg.solve(projected_cov, (covariance @ self._observe.T).T).T
        new_mean = mean + gain @ (measurement - projected_mean)
        new_cov = covariance - gain @ projected_cov @ gain.T
        return new_mean, new_cov
