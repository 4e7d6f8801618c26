"""validate.py SCHEMA SPEC... - exit 0 if every spec validates against the
schema, else print the first error of each that does not and exit 1."""
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
bad = 0
for path in sys.argv[2:]:
    error = next(iter(validator.iter_errors(json.load(open(path)))), None)
    if error is not None:
        bad += 1
        print(f"{path}: /{'/'.join(map(str, error.absolute_path))}: {error.message}")
sys.exit(1 if bad else 0)
