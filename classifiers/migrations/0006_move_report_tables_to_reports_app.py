# The report models moved to the nested reports app with their tables: state only, no data moves.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('classifiers', '0005_merge_20261123_1120'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.RemoveField(
                model_name='baselineoverride',
                name='actor',
            ),
            migrations.RemoveField(
                model_name='baselineoverride',
                name='course',
            ),
            migrations.RemoveField(
                model_name='baselineoverride',
                name='model_version',
            ),
            migrations.RemoveField(
                model_name='baselineoverride',
                name='revoked_by',
            ),
            migrations.RemoveField(
                model_name='baselineoverride',
                name='schema',
            ),
            migrations.RemoveField(
                model_name='reportcell',
                name='label',
            ),
            migrations.RemoveField(
                model_name='reportcell',
                name='module',
            ),
            migrations.RemoveField(
                model_name='reportcell',
                name='snapshot',
            ),
            migrations.RemoveField(
                model_name='reportcomment',
                name='feedback',
            ),
            migrations.RemoveField(
                model_name='reportcomment',
                name='label',
            ),
            migrations.RemoveField(
                model_name='reportcomment',
                name='module',
            ),
            migrations.RemoveField(
                model_name='reportcomment',
                name='snapshot',
            ),
            migrations.RemoveField(
                model_name='reportsettings',
                name='course',
            ),
            migrations.RemoveField(
                model_name='reportsnapshot',
                name='course',
            ),
            migrations.RemoveField(
                model_name='reportsnapshot',
                name='model_version',
            ),
            migrations.RemoveField(
                model_name='reportsnapshot',
                name='schema',
            ),
            migrations.DeleteModel(
                name='Alert',
            ),
            migrations.DeleteModel(
                name='BaselineOverride',
            ),
            migrations.DeleteModel(
                name='ReportCell',
            ),
            migrations.DeleteModel(
                name='ReportComment',
            ),
            migrations.DeleteModel(
                name='ReportSettings',
            ),
            migrations.DeleteModel(
                name='ReportSnapshot',
            ),
            ],
        ),
    ]
