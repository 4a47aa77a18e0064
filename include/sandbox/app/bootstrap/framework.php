<?php

// Laravel comes from Debian's php-laravel-framework package, not from packagist.
require_once '/usr/share/php/Illuminate/autoload.php';
