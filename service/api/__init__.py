"""The JSON API's published contract."""
