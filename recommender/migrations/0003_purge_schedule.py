"""Privacy: a daily job deletes shoppers' photos past the retention period (editable in admin)."""

from django.db import migrations


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="4", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.get_or_create(
        name="Delete old uploads", defaults={"task": "recommender.tasks.purge_old_uploads", "crontab": crontab}
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name="Delete old uploads").delete()


class Migration(migrations.Migration):
    dependencies = [("recommender", "0002_schedules")]

    operations = [migrations.RunPython(create, remove)]
