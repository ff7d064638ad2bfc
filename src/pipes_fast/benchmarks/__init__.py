"""pipes_fast's speed on this machine, beside Dagster's where it is installed: ``pipes-fast bench``.

The measurements live here so that the command and the project's goals (``bench/goals.py``)
share them. Each figure is the best of a few interleaved rounds, with the spread of the rounds.
"""
