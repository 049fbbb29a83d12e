"""Local emulators of the SIASN and SIAPP NV APIs (development and tests only)."""
