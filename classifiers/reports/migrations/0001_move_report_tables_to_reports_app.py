# The report tables already exist (classifiers 0003, db_table kept): this only tells Django the reports app owns them.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('classifiers', '0006_move_report_tables_to_reports_app'),
        ('courses', '0003_merge_20261123_0936'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='ReportSnapshot',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('fingerprint', models.JSONField(default=dict, help_text='Watermarks of the data the summary was built from.')),
                    ('built_at', models.DateTimeField(blank=True, null=True)),
                    ('build_ms', models.PositiveIntegerField(default=0)),
                    ('course', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='courses.course')),
                    ('model_version', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='classifiers.modelversion')),
                    ('schema', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='classifiers.labelschema')),
                ],
                options={
                    'db_table': 'classifiers_reportsnapshot',
                },
            ),
            migrations.CreateModel(
                name='ReportComment',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('week', models.DateField()),
                    ('confidence', models.FloatField()),
                    ('human', models.BooleanField()),
                    ('overall_rank', models.PositiveIntegerField()),
                    ('feedback', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='courses.feedback')),
                    ('label', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='classifiers.label')),
                    ('module', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='courses.module')),
                    ('snapshot', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='comments', to='reports.reportsnapshot')),
                ],
                options={
                    'db_table': 'classifiers_reportcomment',
                },
            ),
            migrations.CreateModel(
                name='ReportCell',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('week', models.DateField(help_text="Monday of the ISO week, in the site's time zone.")),
                    ('count', models.PositiveIntegerField()),
                    ('human_count', models.PositiveIntegerField(help_text='How many of them carry a human label.')),
                    ('label', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='classifiers.label')),
                    ('module', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='courses.module')),
                    ('snapshot', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='cells', to='reports.reportsnapshot')),
                ],
                options={
                    'db_table': 'classifiers_reportcell',
                },
            ),
            migrations.CreateModel(
                name='Alert',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('week', models.DateField(help_text='Monday of the week whose share rose.')),
                    ('share', models.FloatField()),
                    ('previous_share', models.FloatField()),
                    ('count', models.PositiveIntegerField(help_text='Labelled responses in the week.')),
                    ('previous_count', models.PositiveIntegerField()),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('emailed_at', models.DateTimeField(blank=True, null=True)),
                    ('course', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='courses.course')),
                    ('module', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='courses.module')),
                    ('schema', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='classifiers.labelschema')),
                ],
                options={
                    'db_table': 'classifiers_alert',
                    'ordering': ['-week', 'module'],
                    'constraints': [models.UniqueConstraint(fields=('module', 'schema', 'week'), name='one_alert_per_module_week')],
                },
            ),
            migrations.CreateModel(
                name='BaselineOverride',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('reason', models.TextField()),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('revoked_at', models.DateTimeField(blank=True, null=True)),
                    ('actor', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('course', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='courses.course')),
                    ('model_version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='classifiers.modelversion')),
                    ('revoked_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('schema', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='classifiers.labelschema')),
                ],
                options={
                    'db_table': 'classifiers_baselineoverride',
                    'ordering': ['-created_at'],
                    'constraints': [models.UniqueConstraint(condition=models.Q(('revoked_at__isnull', True)), fields=('course', 'schema', 'model_version'), name='one_live_baseline_override'), models.CheckConstraint(condition=models.Q(('reason', ''), _negated=True), name='baseline_override_has_reason')],
                },
            ),
            migrations.CreateModel(
                name='ReportSettings',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('enrolled_students', models.PositiveIntegerField(blank=True, help_text='Known enrolment; response rates are shown only when set.', null=True)),
                    ('alert_rise', models.FloatField(blank=True, help_text='Rise in negative share (0.2 = 20 points) that raises an alert.', null=True)),
                    ('alert_min_count', models.PositiveIntegerField(blank=True, help_text='Labelled responses needed in both weeks before an alert can fire.', null=True)),
                    ('course', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='courses.course')),
                ],
                options={
                    'verbose_name_plural': 'report settings',
                    'db_table': 'classifiers_reportsettings',
                    'constraints': [models.CheckConstraint(condition=models.Q(('alert_rise__isnull', True), models.Q(('alert_rise__gt', 0), ('alert_rise__lte', 1)), _connector='OR'), name='report_alert_rise_0_to_1')],
                },
            ),
            migrations.AddConstraint(
                model_name='reportsnapshot',
                constraint=models.UniqueConstraint(fields=('course', 'schema'), name='report_snapshot_unique'),
            ),
            migrations.AddIndex(
                model_name='reportcomment',
                index=models.Index(fields=['snapshot', 'week'], name='report_comment_snapshot_week'),
            ),
            migrations.AddIndex(
                model_name='reportcomment',
                index=models.Index(fields=['snapshot', 'overall_rank'], name='report_comment_overall_rank'),
            ),
            migrations.AddIndex(
                model_name='reportcell',
                index=models.Index(fields=['snapshot', 'week'], name='report_cell_snapshot_week'),
            ),
            ],
        ),
    ]
