"""What the pipeline costs a month: list prices (``prices``), BigQuery's logical sizes measured on
the emulator (``sizes``) and the arithmetic from assumptions and measurements to a bill
(``model``). ``python -m tools.cost`` (``make cost``) prints it."""
