"""Sample data for the Hive platform's Spark step (``covid_cases.csv``, made by ``make_sample``)."""
