"""Rules of the stations service in plain Python: stations, places, opening hours, the request
loop, points; no I/O."""
