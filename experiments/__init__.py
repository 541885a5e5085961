"""The GT2-vs-random-control experiment: selection, training rounds, statistics over seeds, reports."""
