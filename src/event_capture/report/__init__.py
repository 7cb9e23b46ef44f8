"""The analytics report (``make report``): one self-contained HTML page from the analytics
dataset, its views and the capture log table. ``queries`` reads the aggregates, ``charts`` draws
them with Altair, ``page`` puts them on one page with Vega inlined, ``capture_log`` names the
table Cloud Logging routes the functions' request lines into."""
