"""The demo data of ``manage.py seed_demo`` (``make run``): ``story`` is the
handful of incidents a newcomer clicks through, ``history`` the year of
incidents before them that gives the Insights page something to show."""
