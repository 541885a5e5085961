"""The human loop: picks and selection strategies, batch exports, the Label Studio client and sync,
importing human labels, and real review outcomes."""
