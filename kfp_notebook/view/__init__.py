"""What users see: the pipeline panel, the DAG (IR → DOT → SVG), text summaries of definitions and runs."""
