-- The peers' load-balancer database (scripts/peers/start.sh runs it as MariaDB root with
-- @DB@, @USER@ and @PASSWORD@ rendered). Idempotent. Kamailio and the broker's adapter both use
-- the one account @USER@, which can do nothing outside this database.
CREATE DATABASE IF NOT EXISTS `@DB@`;
CREATE USER IF NOT EXISTS '@USER@'@'127.0.0.1' IDENTIFIED BY '@PASSWORD@';
CREATE USER IF NOT EXISTS '@USER@'@'localhost' IDENTIFIED BY '@PASSWORD@';
ALTER USER '@USER@'@'127.0.0.1' IDENTIFIED BY '@PASSWORD@';
ALTER USER '@USER@'@'localhost' IDENTIFIED BY '@PASSWORD@';
GRANT ALL ON `@DB@`.* TO '@USER@'@'127.0.0.1';
GRANT ALL ON `@DB@`.* TO '@USER@'@'localhost';
USE `@DB@`;
CREATE TABLE IF NOT EXISTS version (
  id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
  table_name VARCHAR(32) NOT NULL,
  table_version INT UNSIGNED DEFAULT 0 NOT NULL,
  CONSTRAINT table_name_idx UNIQUE (table_name));
-- Kamailio 5.6 dispatcher schema (as /usr/share/kamailio/mysql/dispatcher-create.sql).
CREATE TABLE IF NOT EXISTS dispatcher (
  id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
  setid INT DEFAULT 0 NOT NULL,
  destination VARCHAR(192) DEFAULT '' NOT NULL,
  flags INT DEFAULT 0 NOT NULL,
  priority INT DEFAULT 0 NOT NULL,
  attrs VARCHAR(128) DEFAULT '' NOT NULL,
  description VARCHAR(64) DEFAULT '' NOT NULL);
INSERT IGNORE INTO version (table_name, table_version) VALUES ('dispatcher', '4');
-- OpenSIPS load_balancer schema (what an OpenSIPS deployment has; OpenSIPS is not packaged in
-- Debian 12) ...
CREATE TABLE IF NOT EXISTS load_balancer (
  id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
  group_id INT UNSIGNED DEFAULT 0 NOT NULL,
  dst_uri CHAR(128) NOT NULL,
  resources CHAR(255) NOT NULL,
  probe_mode INT UNSIGNED DEFAULT 0 NOT NULL,
  description CHAR(128) DEFAULT '' NOT NULL);
-- ... read by Kamailio's dispatcher through this view (the "lb" instance).
CREATE OR REPLACE VIEW lb_dispatcher AS
  SELECT id, CAST(group_id AS SIGNED) AS setid, dst_uri AS destination, 0 AS flags, 0 AS priority,
         CONCAT('duid=', id) AS attrs, description FROM load_balancer;
INSERT IGNORE INTO version (table_name, table_version) VALUES ('lb_dispatcher', '4');
