"""The staff dashboard: figures over a date range (`metrics`), drawn as inline SVG
(`charts`), arranged into the page's panels (`panels`)."""
