import yaml  # installed in the Airflow venv, never packaged with this function


def handler(event, context):
    return yaml.safe_dump(event)
