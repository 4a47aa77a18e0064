<?php

// Console commands of the application are registered in App\Console\Kernel.
