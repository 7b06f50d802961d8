import vendored_helper


def handler(event, context):
    return {"helper": vendored_helper.VALUE}
