//! Turns results CSVs into Markdown tables and plots (the classification issue fills this in).
