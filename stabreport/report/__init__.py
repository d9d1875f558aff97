"""The report: reading and checking the config (default_report.yml, a project's stabreport.yml),
the page registry, and the claims checked against the results."""
