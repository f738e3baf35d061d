# The forecast says why it has no date (behind its own trend…), and the province rollup counts demo
# designations apart from real ones. Rows computed before this are blank until their next recompute (nightly).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pilots', '0008_overdue_items'),
    ]

    operations = [
        migrations.AddField(
            model_name='completionrollup',
            name='accepted_demo_count',
            field=models.PositiveIntegerField(null=True, verbose_name='accepted demo pilots'),
        ),
        migrations.AddField(
            model_name='completionrollup',
            name='designated_demo_count',
            field=models.PositiveIntegerField(null=True, verbose_name='designated demo pilots'),
        ),
        migrations.AddField(
            model_name='completionrollup',
            name='forecast_status',
            field=models.CharField(blank=True, choices=[('projected', 'projected'), ('complete', 'complete'), ('behind_trend', 'behind its own trend'), ('not_rising', 'no rising trend'), ('beyond_horizon', 'more than 10 years away'), ('insufficient_data', 'fewer than two approved quarters')], default='', max_length=20, verbose_name='forecast status'),
        ),
    ]
