"""nbgrader support: ``classroom`` (the notebook side, in a student's kernel), ``export`` (a course from
challenges), ``autograde`` (the kit's verdicts into nbgrader's gradebook) and ``commands`` (the CLI group)."""
