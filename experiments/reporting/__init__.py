"""The experiment's statistics over seeds and its report: aggregation, Markdown, figures, number formats."""
