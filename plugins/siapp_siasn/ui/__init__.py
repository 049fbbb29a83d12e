"""The "Hub audit" page: an Airflow 3 plugin (a FastAPI app mounted in the api-server and a
link in the UI's navigation and on each DAG run), read-only, behind Airflow's auth.

``plugin.py`` declares the plugin (entry point ``airflow.plugins``), ``app.py`` the app,
``audit_view.py`` what the page shows (pure functions over ``store.audit``).
"""
