"""Plane geometry on lat/lon, enough for city-scale jurisdictions.

Distances are great-circle ones, from ``detection.geo.haversine_m`` (the one implementation).
"""

from __future__ import annotations

from collections.abc import Sequence


def point_in_polygon(lat: float, lon: float, polygon: Sequence[Sequence[float]]) -> bool:
    """Even-odd ray casting over [[lat, lon], ...]; points on an edge count as inside."""
    inside = False
    n = len(polygon)
    for i in range(n):
        (lat1, lon1), (lat2, lon2) = polygon[i][:2], polygon[(i + 1) % n][:2]
        if _on_segment(lat, lon, lat1, lon1, lat2, lon2):
            return True
        if (lon1 > lon) != (lon2 > lon):
            crossing = lat1 + (lon - lon1) * (lat2 - lat1) / (lon2 - lon1)
            if lat < crossing:
                inside = not inside
    return inside


def _on_segment(y: float, x: float, y1: float, x1: float, y2: float, x2: float) -> bool:
    cross = (x - x1) * (y2 - y1) - (y - y1) * (x2 - x1)
    if abs(cross) > 1e-12:
        return False
    return min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2)
