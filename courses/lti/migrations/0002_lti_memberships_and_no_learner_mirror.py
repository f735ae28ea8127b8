"""Existing memberships of LTI users came from launches: mark them so they follow later launches.
django-lti's mirror of platform users (names, e-mails, subs of every learner) is no longer written
(courses.lti.services.mirror_launch); the rows it already holds are deleted."""

from django.db import migrations


def forwards(apps, schema_editor):
    LtiIdentity = apps.get_model("lti", "LtiIdentity")
    CourseMembership = apps.get_model("courses", "CourseMembership")
    CourseMembership.objects.filter(user__in=LtiIdentity.objects.values("user")).update(source="lti")
    apps.get_model("lti_tool", "LtiUser").objects.all().delete()  # cascades to its LtiMembership rows


class Migration(migrations.Migration):

    dependencies = [
        ("lti", "0001_initial"),
        ("courses", "0005_membership_source"),
        ("lti_tool", "0008_ltideployment_pns_url_and_more"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
