"""The command line as a file spark-submit can run (it runs .py files, not modules):

    spark-submit --master spark://host:7077 "$(python -c 'import oversight.spark_submit
    as m; print(m.__file__)')" scan WORKSPACE SOURCE... --engine spark

spark-submit starts this file's Python with the master, the executors' settings and the
Spark session's gateway in place; ``oversight scan --engine spark`` then runs on that
cluster (docs/scale.md).
"""

from __future__ import annotations

from oversight.cli import main

if __name__ == "__main__":
    main()
