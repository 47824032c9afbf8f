"""Where frames, photos and incidents were taken: GPS tracks (GPX, NMEA, SRT) and photo EXIF."""

from detection.geo.exif import PhotoGps, read_exif_gps
from detection.geo.gpx import parse_gpx
from detection.geo.load import load_track, load_track_or_warn
from detection.geo.nmea import nmea_checksum, parse_nmea
from detection.geo.srt import parse_srt
from detection.geo.track import (
    GpsFix,
    GpsTrack,
    TrackConfig,
    align,
    bearing_deg,
    guess_video_start,
    haversine_m,
)

__all__ = [
    "GpsFix",
    "GpsTrack",
    "PhotoGps",
    "TrackConfig",
    "align",
    "bearing_deg",
    "guess_video_start",
    "haversine_m",
    "load_track",
    "load_track_or_warn",
    "nmea_checksum",
    "parse_gpx",
    "parse_nmea",
    "parse_srt",
    "read_exif_gps",
]
