import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eduplatform.settings")
application = get_wsgi_application()

# The default screen's model as each web worker starts, not in a student's first submission (on a new machine
# the first worker writes its arrays while the others wait: classifiers.ml.screening.use_arrays_from).
from classifiers.screening.screens import warm_up  # noqa: E402 - needs the apps loaded above

warm_up()
